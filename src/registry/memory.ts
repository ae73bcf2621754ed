import type { Claim, ClaimResult, NameRecord, Registry, RelayRecord } from './registry.js';

/** Single-process registry. `now` is injected so expiry is testable without waiting. */
export class MemoryRegistry implements Registry {
  readonly #names = new Map<string, NameRecord>();
  readonly #relays = new Map<string, RelayRecord>();
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

  async heartbeat(relay: Omit<RelayRecord, 'expiresAt'>, ttlMs: number): Promise<void> {
    const expiresAt = this.#now() + ttlMs;
    this.#relays.set(relay.relayId, { ...relay, expiresAt });
    for (const [name, rec] of this.#names) {
      if (rec.relayId === relay.relayId) this.#names.set(name, { ...rec, expiresAt });
    }
  }

  async relays(): Promise<RelayRecord[]> {
    const now = this.#now();
    return [...this.#relays.values()].filter((r) => r.expiresAt > now);
  }

  async names(): Promise<NameRecord[]> {
    const now = this.#now();
    return [...this.#names.values()].filter((r) => r.expiresAt > now);
  }

  async close(): Promise<void> {
    this.#names.clear();
    this.#relays.clear();
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
