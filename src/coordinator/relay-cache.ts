/**
 * The relay records placement ranks, read from the registry at most once per `maxAgeMs`.
 *
 * Contract: `get()` resolves with records read no longer than `maxAgeMs` before it was called
 * (relays rewrite their records once per heartbeat, 1 s or more, so a quarter second adds little);
 * concurrent callers share one registry read; a failed read is not kept, so the next call tries
 * the registry again and every caller of the failed read sees its error.
 */
import type { Registry, RelayRecord } from '../registry/index.js';

/** How long placement reuses one read of the relay records. */
export const RELAY_CACHE_MS = 250;

export class RelayCache {
  readonly #registry: Pick<Registry, 'relays'>;
  readonly #now: () => number;
  readonly #maxAgeMs: number;
  #read: { at: number; records: Promise<RelayRecord[]> } | undefined;

  constructor(registry: Pick<Registry, 'relays'>, now: () => number, maxAgeMs = RELAY_CACHE_MS) {
    this.#registry = registry;
    this.#now = now;
    this.#maxAgeMs = maxAgeMs;
  }

  get(): Promise<RelayRecord[]> {
    const t = this.#now();
    if (this.#read && t - this.#read.at < this.#maxAgeMs && t >= this.#read.at) {
      return this.#read.records;
    }
    const records = this.#registry.relays();
    const read = { at: t, records };
    this.#read = read;
    records.catch(() => {
      if (this.#read === read) this.#read = undefined;
    });
    return records;
  }
}
