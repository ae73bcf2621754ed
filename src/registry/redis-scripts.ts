/**
 * The Lua scripts of the Redis registry. Each runs atomically in Redis, so "compare the owner,
 * then write" can never interleave with another relay's claim. Key layout: src/core/constants.ts.
 *
 * Scripts touch keys they compute from an ARGV prefix (the previous relay's name set, the names a
 * heartbeat lists): fine on a single Redis or a sentinel-managed master, not on Redis Cluster.
 */
import { createHash } from 'node:crypto';

export interface Script {
  readonly source: string;
  readonly sha: string;
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/**
 * A name record is live when its relay's record (`burrow:relay:<id>`) exists: Lua that reads a
 * name checks that first, so a relay that stopped heartbeating frees every name it served at
 * once, and an idle heartbeat touches one key. `LIVE(key prefix, relayId)` below.
 */
const LIVE = `
local function live(prefix, relay)
  return relay ~= nil and relay ~= false and redis.call('EXISTS', prefix .. relay) == 1
end
`;

/**
 * KEYS: name key, claiming relay's name set, claiming relay's record.
 * ARGV: owner, relayId, port, ttlMs, now, name, relay-names prefix, takeover channel,
 * relay-record prefix, name ttlMs.
 * Returns {0, owner, relayId} when another owner holds the name live, else {1, ports, since}.
 * Publishes a takeover when the same owner moves the name from another live relay. A claim
 * before the relay's first heartbeat marks it alive (a record with its id only) for ttlMs.
 */
export const CLAIM = script(`${LIVE}
local cur = redis.call('HMGET', KEYS[1], 'owner', 'relayId', 'ports', 'since')
local owner, relay, ports, since = cur[1], cur[2], cur[3], cur[4]
if owner and not live(ARGV[9], relay) then
  if relay then redis.call('SREM', ARGV[7] .. relay, ARGV[6]) end
  owner, relay, ports, since = false, false, false, false
end
if owner and owner ~= ARGV[1] then return {0, owner, relay or ''} end
local seen, list = {}, {}
if owner and relay == ARGV[2] and ports then
  for p in string.gmatch(ports, '%d+') do
    if not seen[p] then seen[p] = true; table.insert(list, tonumber(p)) end
  end
end
if not seen[ARGV[3]] then table.insert(list, tonumber(ARGV[3])) end
table.sort(list)
local joined = table.concat(list, ',')
if not since then since = ARGV[5] end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'relayId', ARGV[2], 'ports', joined, 'since', since)
redis.call('PEXPIRE', KEYS[1], ARGV[10])
redis.call('SADD', KEYS[2], ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
if redis.call('HSETNX', KEYS[3], 'relayId', ARGV[2]) == 1 then
  redis.call('PEXPIRE', KEYS[3], ARGV[4])
end
if owner and relay ~= ARGV[2] then
  redis.call('SREM', ARGV[7] .. relay, ARGV[6])
  redis.call('PUBLISH', ARGV[8],
    cjson.encode({name = ARGV[6], owner = ARGV[1], from = relay, to = ARGV[2]}))
end
return {1, joined, since}
`);

/**
 * KEYS: name key, releasing relay's name set. ARGV: relayId, port, name.
 * Removes the port only if relayId still holds the name; returns 1 if it did.
 */
export const RELEASE = script(`
local cur = redis.call('HMGET', KEYS[1], 'relayId', 'ports')
if cur[1] ~= ARGV[1] then return 0 end
local list = {}
for p in string.gmatch(cur[2] or '', '%d+') do
  if p ~= ARGV[2] then table.insert(list, p) end
end
if #list == 0 then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[3])
else
  redis.call('HSET', KEYS[1], 'ports', table.concat(list, ','))
end
return 1
`);

/**
 * The reconciling heartbeat, one chunk of names. KEYS: the relay's name set.
 * ARGV: relayId, name ttlMs, now, reset ("1": empty the name set first), name-key prefix,
 * relay-record prefix, then (name, owner, ports) triples. Each name that has no live record or
 * is held by (owner, relayId) is written for name ttlMs; each held live by anyone else is left
 * alone and returned as name, owner, relayId.
 */
export const HEARTBEAT = script(`${LIVE}
if ARGV[4] == '1' then redis.call('DEL', KEYS[1]) end
local conflicts = {}
for i = 7, #ARGV, 3 do
  local name, owner, ports = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local key = ARGV[5] .. name
  local cur = redis.call('HMGET', key, 'owner', 'relayId', 'since')
  local alive = cur[1] and live(ARGV[6], cur[2])
  if alive and (cur[1] ~= owner or cur[2] ~= ARGV[1]) then
    table.insert(conflicts, name)
    table.insert(conflicts, cur[1])
    table.insert(conflicts, cur[2] or '')
  else
    local since = (alive and cur[3]) or ARGV[3]
    redis.call('HSET', key, 'owner', owner, 'relayId', ARGV[1], 'ports', ports, 'since', since)
    redis.call('PEXPIRE', key, ARGV[2])
    redis.call('SADD', KEYS[1], name)
  end
end
local ttl = redis.call('PTTL', ARGV[6] .. ARGV[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return conflicts
`);

/**
 * KEYS: the relay's name set. ARGV: relayId, name-key prefix, then names the relay no longer
 * holds: each is removed from the set, and its record deleted if it still names relayId.
 */
export const DROP = script(`
for i = 3, #ARGV do
  local key = ARGV[2] .. ARGV[i]
  if redis.call('HGET', key, 'relayId') == ARGV[1] then redis.call('DEL', key) end
  redis.call('SREM', KEYS[1], ARGV[i])
end
return 1
`);

/**
 * KEYS: relay record key, relays index, the relay's name set. ARGV: relayId, ttlMs, now, then
 * field/value pairs. Writes the record, sets its TTL (and the name set's), indexes the relay, in
 * one step. Returns {1 if a full record was there before (0: none, or only a claim's mark),
 * the name set's size}: what the caller needs to tell whether the registry lost state.
 */
export const PUBLISH_RELAY = script(`
local had = redis.call('HEXISTS', KEYS[1], 'startedAt')
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
return {had, redis.call('SCARD', KEYS[3])}
`);

/**
 * KEYS: the name keys. ARGV: relay-record prefix, relay-names prefix, then the names, in KEYS'
 * order. Returns one entry per key, in order: {owner, relayId, ports, since, pttl} with the pttl
 * of the relay's record (or the name's own, if shorter), or an empty array when the name has no
 * live record. A record whose relay is gone is deleted here (compare, then delete): nothing else
 * would refresh it. One call reads a batch of names in one round trip.
 */
export const LOOKUP = script(`${LIVE}
local out = {}
for i, key in ipairs(KEYS) do
  local cur = redis.call('HMGET', key, 'owner', 'relayId', 'ports', 'since')
  if not cur[1] then
    out[i] = {}
  elseif not live(ARGV[1], cur[2]) then
    redis.call('DEL', key)
    if cur[2] then redis.call('SREM', ARGV[2] .. cur[2], ARGV[i + 2]) end
    out[i] = {}
  else
    local ttl = redis.call('PTTL', ARGV[1] .. cur[2])
    local own = redis.call('PTTL', key)
    if own >= 0 and (ttl < 0 or own < ttl) then ttl = own end
    out[i] = {cur[1], cur[2] or '', cur[3] or '', cur[4] or '0', ttl}
  end
end
return out
`);
