import { EventEmitter } from 'node:events';
import { groupHeld } from './held.js';
import {
  type Claim,
  type ClaimResult,
  type Conflict,
  type Held,
  NAME_TTL_FACTOR,
  type NamePage,
  type NameQuery,
  type NameRecord,
  type Registry,
  type RelayRecord,
  type Takeover,
} from './registry.js';

const DEFAULT_PAGE = 100;

/**
 * Single-process registry. `now` is injected so expiry is testable without waiting. It never
 * loses state, so its heartbeat reconciles every time (the contract allows it); liveness follows
 * the relay as in Redis: a name reads as absent once its relay's `#alive` entry has lapsed.
 */
export class MemoryRegistry implements Registry {
  /** Name records; `expiresAt` here is the name's own (long) life, not its relay's. */
  readonly #names = new Map<string, NameRecord>();
  readonly #relays = new Map<string, RelayRecord>();
  /** When each relay lapses: set by its heartbeat, or by a claim before its first one. */
  readonly #alive = new Map<string, number>();
  readonly #events = new EventEmitter();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  async claim(c: Claim): Promise<ClaimResult> {
    const now = this.#now();
    const current = this.#live(c.name, now);
    if (current && current.owner !== c.owner) {
      return { ok: false, heldBy: { owner: current.owner, relayId: current.relayId } };
    }
    if ((this.#alive.get(c.relayId) ?? 0) <= now) this.#alive.set(c.relayId, now + c.ttlMs);
    const keepPorts = current && current.relayId === c.relayId ? current.ports : [];
    const ports = [...new Set([...keepPorts, c.port])].sort((x, y) => x - y);
    const record: NameRecord = {
      name: c.name,
      owner: c.owner,
      relayId: c.relayId,
      ports,
      since: current?.since ?? now,
      expiresAt: now + c.ttlMs * NAME_TTL_FACTOR,
    };
    this.#names.set(c.name, record);
    if (current && current.relayId !== c.relayId) {
      const t: Takeover = { name: c.name, owner: c.owner, from: current.relayId, to: c.relayId };
      this.#events.emit('takeover', t);
    }
    return { ok: true, record: this.#asLive(record) };
  }

  async release(name: string, port: number, relayId: string): Promise<void> {
    const current = this.#names.get(name);
    if (!current || current.relayId !== relayId) return;
    const ports = current.ports.filter((p) => p !== port);
    if (ports.length === 0) this.#names.delete(name);
    else this.#names.set(name, { ...current, ports });
  }

  async lookup(name: string): Promise<NameRecord | undefined> {
    const rec = this.#live(name, this.#now());
    return rec && this.#asLive(rec);
  }

  async lookupMany(names: readonly string[]): Promise<(NameRecord | undefined)[]> {
    const now = this.#now();
    return names.map((name) => {
      const rec = this.#live(name, now);
      return rec && this.#asLive(rec);
    });
  }

  async heartbeat(
    relay: Omit<RelayRecord, 'expiresAt'>,
    held: Held,
    ttlMs: number,
  ): Promise<Conflict[]> {
    const now = this.#now();
    this.#relays.set(relay.relayId, { ...relay, expiresAt: now + ttlMs });
    this.#alive.set(relay.relayId, now + ttlMs);
    const holding = groupHeld(typeof held === 'function' ? held() : held);
    const conflicts: Conflict[] = [];
    for (const [name, { owner, ports }] of holding) {
      const current = this.#live(name, now);
      if (current && (current.owner !== owner || current.relayId !== relay.relayId)) {
        conflicts.push({ name, heldBy: { owner: current.owner, relayId: current.relayId } });
        continue;
      }
      this.#names.set(name, {
        name,
        owner,
        relayId: relay.relayId,
        ports,
        since: current?.since ?? now,
        expiresAt: now + ttlMs * NAME_TTL_FACTOR,
      });
    }
    for (const [name, rec] of this.#names) {
      if (rec.relayId === relay.relayId && !holding.has(name)) this.#names.delete(name);
    }
    return conflicts;
  }

  async relays(): Promise<RelayRecord[]> {
    const now = this.#now();
    return [...this.#relays.values()].filter((r) => r.expiresAt > now);
  }

  async names(query: NameQuery = {}): Promise<NamePage> {
    const now = this.#now();
    const prefix = query.prefix ?? '';
    const limit = Math.max(1, query.limit ?? DEFAULT_PAGE);
    const after = query.cursor ?? '';
    const page = [...this.#names.keys()]
      .filter((name) => name.startsWith(prefix) && name > after)
      .map((name) => this.#live(name, now))
      .filter((r): r is NameRecord => r !== undefined)
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((r) => this.#asLive(r));
    const names = page.slice(0, limit);
    const last = names.at(-1);
    return page.length > limit && last ? { names, cursor: last.name } : { names };
  }

  async onTakeover(listener: (t: Takeover) => void): Promise<() => void> {
    this.#events.on('takeover', listener);
    return () => {
      this.#events.off('takeover', listener);
    };
  }

  async close(): Promise<void> {
    this.#names.clear();
    this.#relays.clear();
    this.#alive.clear();
    this.#events.removeAllListeners();
  }

  /** The name's record if it and its relay are both live; a dead one is reaped. */
  #live(name: string, now: number): NameRecord | undefined {
    const rec = this.#names.get(name);
    if (rec && (rec.expiresAt <= now || (this.#alive.get(rec.relayId) ?? 0) <= now)) {
      this.#names.delete(name);
      return undefined;
    }
    return rec;
  }

  /** `rec` with the expiry a reader sees: its relay's, unless its own comes first. */
  #asLive(rec: NameRecord): NameRecord {
    const relayExpires = this.#alive.get(rec.relayId) ?? 0;
    return { ...rec, expiresAt: Math.min(rec.expiresAt, relayExpires) };
  }
}
