/**
 * Per-source penalties, after OpenSSH 9.8's `PerSourcePenalties`: a source whose pre-auth
 * connections misbehave accrues penalty time, and once its penalty reaches `min` its new
 * connections are refused at accept until the penalty expires. Pure bookkeeping; the clock is
 * passed in.
 *
 * - Each misbehaving connection adds its kind's duration to the source's penalty, counted from
 *   now or from the current expiry, whichever is later, and capped at `max` from now: a source
 *   that keeps misbehaving stays refused longer, up to `max`; one that stops is let in again
 *   once its penalty runs out.
 * - A penalty under `min` refuses nothing (one mistyped key is not an attack); once it reaches
 *   `min` the source is refused until expiry.
 * - A source that never misbehaved has no entry and is never refused (save `overflow: deny-all`).
 * - The table holds at most `maxSources` entries. When it is full and a new source misbehaves,
 *   expired entries are swept; if none have expired, `overflow` decides: `permissive` (OpenSSH's
 *   default, burrow's too) does not track the new source, `deny-all` refuses every source that
 *   has no entry until room frees up.
 */
export type PenaltyKind = 'authfail' | 'noauth' | 'grace-exceeded' | 'max-per-source';

export interface PenaltyConfig {
  /** Milliseconds added per misbehaving connection, by kind. */
  readonly add: Readonly<Record<PenaltyKind, number>>;
  readonly minMs: number;
  readonly maxMs: number;
  readonly maxSources: number;
  readonly overflow: 'permissive' | 'deny-all';
}

/** OpenSSH's defaults, with `max-per-source` (which sshd has no keyword for) at 5s. */
export const DEFAULT_PENALTIES: PenaltyConfig = {
  add: { authfail: 5_000, noauth: 1_000, 'grace-exceeded': 10_000, 'max-per-source': 5_000 },
  minMs: 15_000,
  maxMs: 600_000,
  maxSources: 65_536,
  overflow: 'permissive',
};

interface Entry {
  expiry: number;
  active: boolean;
}

export class Penalties {
  readonly #config: PenaltyConfig;
  readonly #entries = new Map<string, Entry>();
  #overflowing = false;
  #lastSweep = Number.NEGATIVE_INFINITY;

  constructor(config: PenaltyConfig) {
    this.#config = config;
  }

  /** Sources with a penalty entry (active or not yet expired). */
  get size(): number {
    return this.#entries.size;
  }

  penalise(source: string, kind: PenaltyKind, now: number): void {
    const add = this.#config.add[kind];
    if (add <= 0) return;
    let entry = this.#entries.get(source);
    if (entry && entry.expiry <= now) {
      this.#entries.delete(source);
      entry = undefined;
    }
    if (!entry) {
      if (this.#entries.size >= this.#config.maxSources && !this.#makeRoom(now)) return;
      entry = { expiry: now, active: false };
      this.#entries.set(source, entry);
    }
    entry.expiry = Math.min(entry.expiry + add, now + this.#config.maxMs);
    if (entry.expiry - now >= this.#config.minMs) entry.active = true;
  }

  /** Milliseconds until the source may connect again; 0 if it may now. */
  refusedFor(source: string, now: number): number {
    const entry = this.#entries.get(source);
    if (entry && entry.expiry <= now) this.#entries.delete(source);
    else if (entry) return entry.active ? entry.expiry - now : 0;
    if (!this.#overflowing) return 0;
    // Sweeping is a scan of the table: while overflowing, at most once a second.
    if (now - this.#lastSweep < 1000) return 1;
    return this.#makeRoom(now) ? 0 : 1;
  }

  /** Drops expired entries; true if there is room for one more. */
  #makeRoom(now: number): boolean {
    this.#lastSweep = now;
    for (const [source, entry] of this.#entries) {
      if (entry.expiry <= now) this.#entries.delete(source);
    }
    const room = this.#entries.size < this.#config.maxSources;
    this.#overflowing = !room && this.#config.overflow === 'deny-all';
    return room;
  }
}
