/**
 * Caps on authenticated connections that hold no registered name, per key and per source
 * address, so a leaked or do-nothing key cannot hold thousands of sockets. Pure bookkeeping.
 *
 * What counts: a connection counts from its successful authentication until it registers a name
 * or closes; one that releases its last name counts again. A connection serving names is not
 * counted: how many of those a key can have is bounded by the names its policy lets it register
 * (registering a name again takes it over and closes the old connection), and not counting them
 * means a device reconnecting while its old, half-open connection still holds its names is never
 * refused on that account.
 *
 * Contract: `admit` checks and counts; `add` counts without checking (a connection that released
 * its names); every counted connection is removed exactly once with the same key and source.
 */
export type CapRefusal = 'max-connections-per-key' | 'max-connections-per-source';

export type CapResult = { ok: true } | { ok: false; reason: CapRefusal };

/** Shown by OpenSSH clients (as a banner) before "Permission denied" when a cap refuses a key. */
export const CAP_REFUSAL_TEXT: Record<CapRefusal, string> = {
  'max-connections-per-key':
    'burrow: this key already holds the most connections this relay allows per key; close one',
  'max-connections-per-source':
    'burrow: this address already holds the most connections this relay allows per source; close one',
};

export class ConnectionCaps {
  readonly #maxPerKey: number;
  readonly #maxPerSource: number;
  readonly #byKey = new Map<string, number>();
  readonly #bySource = new Map<string, number>();

  constructor(maxPerKey: number, maxPerSource: number) {
    this.#maxPerKey = maxPerKey;
    this.#maxPerSource = maxPerSource;
  }

  /** Counted connections of `key` (a fingerprint). */
  ofKey(key: string): number {
    return this.#byKey.get(key) ?? 0;
  }

  /** Counted connections from `source`, an address as `sourceOf` groups it. */
  ofSource(source: string): number {
    return this.#bySource.get(source) ?? 0;
  }

  admit(key: string, source: string): CapResult {
    if (this.ofKey(key) >= this.#maxPerKey) return { ok: false, reason: 'max-connections-per-key' };
    if (this.ofSource(source) >= this.#maxPerSource) {
      return { ok: false, reason: 'max-connections-per-source' };
    }
    this.add(key, source);
    return { ok: true };
  }

  add(key: string, source: string): void {
    this.#byKey.set(key, this.ofKey(key) + 1);
    this.#bySource.set(source, this.ofSource(source) + 1);
  }

  remove(key: string, source: string): void {
    decrement(this.#byKey, key);
    decrement(this.#bySource, source);
  }
}

function decrement(m: Map<string, number>, k: string): void {
  const n = m.get(k);
  if (n === undefined) return;
  if (n <= 1) m.delete(k);
  else m.set(k, n - 1);
}

export { sourceOf } from './sources.js';
