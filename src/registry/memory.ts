import { EventEmitter } from 'node:events';
import { groupHeld } from './held.js';
import type {
  Claim,
  ClaimResult,
  Conflict,
  HeldRoute,
  NamePage,
  NameQuery,
  NameRecord,
  Registry,
  RelayRecord,
  Takeover,
} from './registry.js';

const DEFAULT_PAGE = 100;

/** Single-process registry. `now` is injected so expiry is testable without waiting. */
export class MemoryRegistry implements Registry {
  readonly #names = new Map<string, NameRecord>();
  readonly #relays = new Map<string, RelayRecord>();
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
    const keepPorts = current && current.relayId === c.relayId ? current.ports : [];
    const ports = [...new Set([...keepPorts, c.port])].sort((x, y) => x - y);
    const record: NameRecord = {
      name: c.name,
      owner: c.owner,
      relayId: c.relayId,
      ports,
      since: current?.since ?? now,
      expiresAt: now + c.ttlMs,
    };
    this.#names.set(c.name, record);
    if (current && current.relayId !== c.relayId) {
      const t: Takeover = { name: c.name, owner: c.owner, from: current.relayId, to: c.relayId };
      this.#events.emit('takeover', t);
    }
    return { ok: true, record };
  }

  async release(name: string, port: number, relayId: string): Promise<void> {
    const current = this.#names.get(name);
    if (!current || current.relayId !== relayId) return;
    const ports = current.ports.filter((p) => p !== port);
    if (ports.length === 0) this.#names.delete(name);
    else this.#names.set(name, { ...current, ports });
  }

  async lookup(name: string): Promise<NameRecord | undefined> {
    return this.#live(name, this.#now());
  }

  async heartbeat(
    relay: Omit<RelayRecord, 'expiresAt'>,
    held: readonly HeldRoute[],
    ttlMs: number,
  ): Promise<Conflict[]> {
    const now = this.#now();
    const expiresAt = now + ttlMs;
    this.#relays.set(relay.relayId, { ...relay, expiresAt });
    const conflicts: Conflict[] = [];
    for (const [name, { owner, ports }] of groupHeld(held)) {
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
        expiresAt,
      });
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
    const page = [...this.#names.values()]
      .filter((r) => r.expiresAt > now && r.name.startsWith(prefix) && r.name > after)
      .sort((a, b) => (a.name < b.name ? -1 : 1));
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
    this.#events.removeAllListeners();
  }

  #live(name: string, now: number): NameRecord | undefined {
    const rec = this.#names.get(name);
    if (rec && rec.expiresAt <= now) {
      this.#names.delete(name);
      return undefined;
    }
    return rec;
  }
}
