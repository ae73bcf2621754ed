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
 * KEYS: name key, claiming relay's name set.
 * ARGV: owner, relayId, port, ttlMs, now, name, relay-names prefix, takeover channel.
 * Returns {0, owner, relayId} when another owner holds the name, else {1, ports, since}.
 * Publishes a takeover when the same owner moves the name from another relay.
 */
export const CLAIM = script(`
local cur = redis.call('HMGET', KEYS[1], 'owner', 'relayId', 'ports', 'since')
local owner, relay, ports, since = cur[1], cur[2], cur[3], cur[4]
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
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('SADD', KEYS[2], ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
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
 * KEYS: the relay's name set.
 * ARGV: relayId, ttlMs, now, reset ("1": empty the name set first), name-key prefix, then
 * (name, owner, ports) triples. Each name that is missing or held by (owner, relayId) is written
 * and refreshed; each held by anyone else is left alone and returned as name, owner, relayId.
 */
export const HEARTBEAT = script(`
if ARGV[4] == '1' then redis.call('DEL', KEYS[1]) end
local conflicts = {}
for i = 6, #ARGV, 3 do
  local name, owner, ports = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local key = ARGV[5] .. name
  local cur = redis.call('HMGET', key, 'owner', 'relayId', 'since')
  if cur[1] and (cur[1] ~= owner or cur[2] ~= ARGV[1]) then
    table.insert(conflicts, name)
    table.insert(conflicts, cur[1])
    table.insert(conflicts, cur[2] or '')
  else
    redis.call('HSET', key, 'owner', owner, 'relayId', ARGV[1], 'ports', ports,
      'since', cur[3] or ARGV[3])
    redis.call('PEXPIRE', key, ARGV[2])
    redis.call('SADD', KEYS[1], name)
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return conflicts
`);

/**
 * KEYS: relay record key, relays index. ARGV: relayId, ttlMs, now, then field/value pairs.
 * Replaces the record, sets its TTL and indexes the relay, in one step.
 */
export const PUBLISH_RELAY = script(`
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
`);

/**
 * KEYS: name key. Returns {owner, relayId, ports, since, pttl}, or an empty array when the
 * name has no live record.
 */
export const LOOKUP = script(`
local cur = redis.call('HMGET', KEYS[1], 'owner', 'relayId', 'ports', 'since')
if not cur[1] then return {} end
return {cur[1], cur[2] or '', cur[3] or '', cur[4] or '0', redis.call('PTTL', KEYS[1])}
`);
