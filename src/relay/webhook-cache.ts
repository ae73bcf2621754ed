import type { PolicyEntry } from '../core/policy/index.js';

/**
 * The auth webhook's answers, by key (base64 of the SSH key blob). Pure: the caller passes the
 * clock and owns the timers.
 *
 * Contract:
 * - An allow is *fresh* until `until` (its ttl_s) and serves new logins only while fresh; it stays
 *   the key's *live* entry (what its open connections may do) until a later answer replaces it or
 *   `drop` removes it, so a hook that cannot be reached never cuts a live connection.
 * - A deny replaces the key's allow and is fresh until its `until` (at most 10 s, see
 *   webhook-answer.ts); a stale deny is never used.
 * - Memory is bounded: at most `maxAllows` allows and `maxDenies` denies, each map evicting its
 *   least recently used entry. Denies have their own bound, so a flood of refused keys cannot
 *   evict an allowed one.
 * - `renewAt` is when the owner should ask the hook again about an allow (its `until` at first,
 *   later after a failed renewal); `due(now)` lists the allows whose moment has come.
 */
export interface CachedAllow {
  readonly entry: PolicyEntry;
  readonly until: number;
  renewAt: number;
  /** Who offered the key last, for the renewal request. */
  readonly source: string;
  readonly user: string;
}

export class WebhookCache {
  readonly #allows = new Map<string, CachedAllow>();
  readonly #denies = new Map<string, number>();
  readonly #maxAllows: number;
  readonly #maxDenies: number;

  constructor(maxAllows = 100_000, maxDenies = 10_000) {
    this.#maxAllows = maxAllows;
    this.#maxDenies = maxDenies;
  }

  get size(): { allows: number; denies: number } {
    return { allows: this.#allows.size, denies: this.#denies.size };
  }

  /** The fresh answer for `key`, if any: an allow's entry, or `deny`. */
  fresh(
    key: string,
    now: number,
  ): { allow: true; entry: PolicyEntry } | { allow: false } | undefined {
    const until = this.#denies.get(key);
    if (until !== undefined) {
      if (until > now) return { allow: false };
      this.#denies.delete(key);
    }
    const a = this.#allows.get(key);
    if (!a || a.until <= now) return undefined;
    touch(this.#allows, key, a);
    return { allow: true, entry: a.entry };
  }

  /** The key's live entry: its latest allow, fresh or not, unless a deny replaced it. */
  live(key: string): PolicyEntry | undefined {
    return this.#allows.get(key)?.entry;
  }

  allow(key: string, a: Omit<CachedAllow, 'renewAt'>): void {
    this.#denies.delete(key);
    this.#allows.delete(key);
    this.#allows.set(key, { ...a, renewAt: a.until });
    evict(this.#allows, this.#maxAllows);
  }

  deny(key: string, until: number): void {
    this.#allows.delete(key);
    this.#denies.delete(key);
    this.#denies.set(key, until);
    evict(this.#denies, this.#maxDenies);
  }

  /** Asks again about `key` at `at` (after a renewal that got no answer). */
  retryAt(key: string, at: number): void {
    const a = this.#allows.get(key);
    if (a) a.renewAt = at;
  }

  drop(key: string): void {
    this.#allows.delete(key);
  }

  /** Allows whose renewal is due at `now`, and the soonest renewal after those. */
  due(now: number): { keys: string[]; next?: number } {
    const keys: string[] = [];
    let next: number | undefined;
    for (const [key, a] of this.#allows) {
      if (a.renewAt <= now) keys.push(key);
      else next = next === undefined ? a.renewAt : Math.min(next, a.renewAt);
    }
    return next === undefined ? { keys } : { keys, next };
  }

  allowOf(key: string): CachedAllow | undefined {
    return this.#allows.get(key);
  }
}

function touch<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
}

function evict<V>(map: Map<string, V>, max: number): void {
  while (map.size > max) {
    const oldest = map.keys().next().value as string;
    map.delete(oldest);
  }
}
