/**
 * The registry shared by a cluster of relays, in Redis. Key layout (all under REGISTRY_PREFIX,
 * written out in src/core/constants.ts):
 *
 *   burrow:name:<name>            hash owner, relayId, ports, since; PEXPIRE ttl × NAME_TTL_FACTOR
 *   burrow:relay:<relayId>        hash: the relay record; PEXPIRE ttl
 *   burrow:relay-names:<relayId>  set of the relay's names; PEXPIRE ttl
 *   burrow:relays                 sorted set indexing relay ids
 *   burrow:takeover               pub/sub channel of takeovers (JSON)
 *
 * A name is live while its relay's record exists (the scripts check), so an idle heartbeat is one
 * script call that rewrites the relay record and reads the name set's size: O(1) in the names
 * held. The held names are sent (in chunks) only when the registry may have lost or diverged
 * from them: no full relay record (Redis restarted empty, failed over, the record expired), a
 * name set whose size differs from the relay's count, or RESYNC_FACTOR × ttl since the last
 * reconcile. Name keys outlive that by far and are refreshed by it, so a dead relay's names go
 * by themselves (or sooner, when a lookup finds their relay gone and deletes them).
 *
 * Claim, release, heartbeat and lookup (of one name or a batch) are Lua scripts (redis-scripts.ts), run with EVALSHA and
 * loaded with EVAL when Redis answers NOSCRIPT (first use, or after a restart): two relays racing
 * for one name can never both win. Expiry is Redis's own TTL, so times come from this process's
 * clock only for `since` and to turn a PTTL into `expiresAt`.
 */
import {
  REGISTRY_NAME_KEY,
  REGISTRY_RELAY_KEY,
  REGISTRY_RELAY_NAMES_KEY,
  REGISTRY_RELAYS_INDEX,
  REGISTRY_TAKEOVER_CHANNEL,
} from '../core/constants.js';
import { groupHeld } from './held.js';
import { type Link, type LinkOptions, openLink } from './redis-link.js';
import {
  CLAIM,
  DROP,
  HEARTBEAT,
  LOOKUP,
  PUBLISH_RELAY,
  RELEASE,
  type Script,
} from './redis-scripts.js';
import {
  type Claim,
  type ClaimResult,
  type Conflict,
  type Held,
  type HeldRoute,
  NAME_TTL_FACTOR,
  type NamePage,
  type NameQuery,
  type NameRecord,
  RESYNC_FACTOR,
  type Registry,
  type RelayRecord,
  type Takeover,
} from './registry.js';
import type { RegistryTarget } from './url.js';

/** Names a heartbeat sends per script call, so one call never blocks Redis for long. */
const HEARTBEAT_CHUNK = 500;
const DEFAULT_PAGE = 100;

export class RedisRegistry implements Registry {
  readonly #link: Link;
  readonly #now: () => number;
  /** When each relay (by id) last reconciled all its names through this client. */
  readonly #reconciledAt = new Map<string, number>();
  /** A command failed since the last reconcile: Redis may have missed (or half-applied) writes. */
  #missed = false;
  /** Claims and releases sent so far (a heartbeat allows for those sent while it compares). */
  #writes = 0;

  private constructor(link: Link, now: () => number) {
    this.#link = link;
    this.#now = now;
  }

  /** Connects; rejects with REFUSED `--registry <url>: cannot connect: <reason>` (see openLink). */
  static async connect(
    target: Exclude<RegistryTarget, { kind: 'memory' }>,
    opts: LinkOptions & { now?: () => number } = {},
  ): Promise<RedisRegistry> {
    return new RedisRegistry(await openLink(target, opts), opts.now ?? Date.now);
  }

  async claim(c: Claim): Promise<ClaimResult> {
    this.#writes += 1;
    const reply = (await this.#eval(
      CLAIM,
      [nameKey(c.name), REGISTRY_RELAY_NAMES_KEY + c.relayId, REGISTRY_RELAY_KEY + c.relayId],
      [
        c.owner,
        c.relayId,
        String(c.port),
        String(c.ttlMs),
        String(this.#now()),
        c.name,
        REGISTRY_RELAY_NAMES_KEY,
        REGISTRY_TAKEOVER_CHANNEL,
        REGISTRY_RELAY_KEY,
        String(c.ttlMs * NAME_TTL_FACTOR),
      ],
    )) as unknown[];
    if (Number(reply[0]) !== 1) {
      return { ok: false, heldBy: { owner: String(reply[1]), relayId: String(reply[2]) } };
    }
    return {
      ok: true,
      record: {
        name: c.name,
        owner: c.owner,
        relayId: c.relayId,
        ports: parsePorts(reply[1]),
        since: Number(reply[2]),
        expiresAt: this.#now() + c.ttlMs,
      },
    };
  }

  async release(name: string, port: number, relayId: string): Promise<void> {
    this.#writes += 1;
    await this.#eval(
      RELEASE,
      [nameKey(name), REGISTRY_RELAY_NAMES_KEY + relayId],
      [relayId, String(port), name],
    );
  }

  async lookup(name: string): Promise<NameRecord | undefined> {
    return (await this.lookupMany([name]))[0];
  }

  async lookupMany(names: readonly string[]): Promise<(NameRecord | undefined)[]> {
    if (names.length === 0) return [];
    const reply = (await this.#eval(LOOKUP, names.map(nameKey), [
      REGISTRY_RELAY_KEY,
      REGISTRY_RELAY_NAMES_KEY,
      ...names,
    ])) as unknown[][];
    const now = this.#now();
    return names.map((name, i) => {
      const entry = reply[i] ?? [];
      if (entry.length === 0) return undefined;
      const [owner, relayId, ports, since, pttl] = entry;
      const ttl = Number(pttl);
      return {
        name,
        owner: String(owner),
        relayId: String(relayId),
        ports: parsePorts(ports),
        since: Number(since),
        // PTTL is -1 for a key without expiry (never written so by burrow): treat as just refreshed.
        expiresAt: now + (ttl >= 0 ? ttl : 0),
      };
    });
  }

  async heartbeat(
    relay: Omit<RelayRecord, 'expiresAt'>,
    held: Held,
    ttlMs: number,
  ): Promise<Conflict[]> {
    const at = this.#now();
    const fields: Record<string, string> = {
      relayId: relay.relayId,
      address: relay.address,
      names: String(relay.names),
      connections: String(relay.connections),
      capacity: String(relay.capacity),
      draining: relay.draining ? '1' : '0',
      version: relay.version,
      startedAt: String(relay.startedAt),
    };
    const namesKey = REGISTRY_RELAY_NAMES_KEY + relay.relayId;
    const writes = this.#writes;
    const [had, listed] = (await this.#eval(
      PUBLISH_RELAY,
      [REGISTRY_RELAY_KEY + relay.relayId, REGISTRY_RELAYS_INDEX, namesKey],
      [relay.relayId, String(ttlMs), String(at), ...Object.entries(fields).flat()],
    )) as [unknown, unknown];
    const readHeld = typeof held === 'function' ? held : () => held;
    const last = this.#reconciledAt.get(relay.relayId);
    const due = last === undefined || at - last >= ttlMs * RESYNC_FACTOR;
    if (Number(had) === 1 && !due && !this.#missed) {
      // Writes sent before the record were answered before it; let their callers update the
      // local table. Those sent since may show on one side only: allow for that many.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const gap = Math.abs(Number(listed) - groupHeld(readHeld()).size);
      if (gap <= this.#writes - writes) return [];
    }
    return this.#reconcile(relay.relayId, readHeld, ttlMs, at);
  }

  /**
   * Sends every held name (chunked) and removes the names the registry lists for the relay that
   * it no longer holds. The name set is read first and `held` after that, so a registration whose
   * claim Redis answered before it is counted as held, not dropped.
   */
  async #reconcile(
    relayId: string,
    readHeld: () => readonly HeldRoute[],
    ttlMs: number,
    at: number,
  ): Promise<Conflict[]> {
    const namesKey = REGISTRY_RELAY_NAMES_KEY + relayId;
    this.#missed = false;
    const members = await this.#link.send(['SMEMBERS', namesKey]).catch((err: unknown) => {
      this.#missed = true;
      throw err;
    });
    const listed = (members as unknown[]).map(String);
    // Claims answered before SMEMBERS have resolved; let their continuations register locally.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const holding = groupHeld(readHeld());
    const triples = [...holding].map(([name, h]) => [name, h.owner, h.ports.join(',')]);
    const conflicts: Conflict[] = [];
    const now = String(this.#now());
    for (let i = 0; i === 0 || i < triples.length; i += HEARTBEAT_CHUNK) {
      const chunk = triples.slice(i, i + HEARTBEAT_CHUNK).flat();
      const reply = (await this.#eval(
        HEARTBEAT,
        [namesKey],
        [
          relayId,
          String(ttlMs * NAME_TTL_FACTOR),
          now,
          i === 0 ? '1' : '0',
          REGISTRY_NAME_KEY,
          REGISTRY_RELAY_KEY,
          ...chunk,
        ],
      )) as unknown[];
      for (let j = 0; j + 2 < reply.length; j += 3) {
        conflicts.push({
          name: String(reply[j]),
          heldBy: { owner: String(reply[j + 1]), relayId: String(reply[j + 2]) },
        });
      }
    }
    const gone = listed.filter((name) => !holding.has(name));
    for (let i = 0; i < gone.length; i += HEARTBEAT_CHUNK) {
      await this.#eval(
        DROP,
        [namesKey],
        [relayId, REGISTRY_NAME_KEY, ...gone.slice(i, i + HEARTBEAT_CHUNK)],
      );
    }
    this.#reconciledAt.set(relayId, at);
    return conflicts;
  }

  async relays(): Promise<RelayRecord[]> {
    const ids = (await this.#link.send(['ZRANGE', REGISTRY_RELAYS_INDEX, '0', '-1'])) as unknown[];
    const keys = ['relayId', 'address', 'names', 'connections', 'capacity', 'draining'] as const;
    const more = ['version', 'startedAt'] as const;
    const records = await Promise.all(
      ids.map(async (id) => {
        const key = REGISTRY_RELAY_KEY + String(id);
        const [values, pttl] = await Promise.all([
          this.#link.send(['HMGET', key, ...keys, ...more]) as Promise<unknown[]>,
          this.#link.send(['PTTL', key]),
        ]);
        if (values[0] === null || values[0] === undefined || Number(pttl) === -2) {
          await this.#link.send(['ZREM', REGISTRY_RELAYS_INDEX, String(id)]);
          return undefined;
        }
        const [relayId, address, names, connections, capacity, draining, version, startedAt] =
          values.map((v) => String(v ?? ''));
        const record: RelayRecord = {
          relayId: relayId ?? String(id),
          address: address ?? '',
          names: Number(names),
          connections: Number(connections),
          capacity: Number(capacity),
          draining: draining === '1',
          version: version ?? '',
          startedAt: Number(startedAt),
          expiresAt: this.#now() + Math.max(0, Number(pttl)),
        };
        return record;
      }),
    );
    return records.filter((r): r is RelayRecord => r !== undefined);
  }

  async names(query: NameQuery = {}): Promise<NamePage> {
    const cursor = query.cursor ?? '0';
    if (!/^\d+$/.test(cursor)) throw new Error(`bad names cursor ${JSON.stringify(cursor)}`);
    const match = `${globEscape(REGISTRY_NAME_KEY + (query.prefix ?? ''))}*`;
    const count = String(Math.max(1, query.limit ?? DEFAULT_PAGE));
    const [next, keys] = (await this.#link.send([
      'SCAN',
      cursor,
      'MATCH',
      match,
      'COUNT',
      count,
      'TYPE',
      'hash',
    ])) as [unknown, unknown[]];
    const found = await this.lookupMany(keys.map((k) => String(k).slice(REGISTRY_NAME_KEY.length)));
    const names = found.filter((r): r is NameRecord => r !== undefined);
    return String(next) === '0' ? { names } : { names, cursor: String(next) };
  }

  async onTakeover(listener: (t: Takeover) => void): Promise<() => void> {
    const stop = await this.#link.subscribe(REGISTRY_TAKEOVER_CHANNEL, (message) => {
      let t: Takeover;
      try {
        t = JSON.parse(message) as Takeover;
      } catch {
        return; // not ours: anyone who can write to this Redis can publish here
      }
      if (typeof t?.name === 'string' && typeof t.from === 'string') listener(t);
    });
    return () => {
      void stop().catch(() => {});
    };
  }

  silentMs(): number {
    return this.#link.silentMs();
  }

  close(): Promise<void> {
    return this.#link.close();
  }

  /**
   * EVALSHA, falling back to EVAL (which also caches the script) on NOSCRIPT. A failure marks
   * the registry as possibly missing writes, so the next heartbeat reconciles.
   */
  async #eval(s: Script, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      try {
        return await this.#link.send(['EVALSHA', s.sha, ...tail]);
      } catch (err) {
        if (!String((err as Error)?.message).startsWith('NOSCRIPT')) throw err;
        return await this.#link.send(['EVAL', s.source, ...tail]);
      }
    } catch (err) {
      this.#missed = true;
      throw err;
    }
  }
}

function nameKey(name: string): string {
  return REGISTRY_NAME_KEY + name;
}

function parsePorts(value: unknown): number[] {
  return String(value ?? '')
    .split(',')
    .filter(Boolean)
    .map(Number);
}

/** `text` with Redis glob metacharacters escaped, for SCAN MATCH. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
