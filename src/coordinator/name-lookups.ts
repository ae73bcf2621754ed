/**
 * The name lookups of placement, coalesced: under load, the questions that arrive together are
 * read from the registry in one `lookupMany` call (one Redis round trip, one write on its socket)
 * instead of one call each. At rest a question still goes out at the end of the event-loop turn
 * it came in.
 *
 * Contract of `NameLookups`:
 * - `lookup(name)` resolves with what a `lookupMany` call sent after `lookup` was called read for
 *   `name`. Nothing is cached between calls, so a name that moved is answered where it is now.
 * - At most one batch is in flight. Lookups asked while none is go out together once the current
 *   event-loop turn is over (`defer`, setImmediate by default); lookups asked while one is go out
 *   together as soon as it settles. A batch reads each name once, and is split into calls of at
 *   most `maxBatch` names, sent at once.
 * - A failed call rejects every lookup it carried with its error; the lookups queued meanwhile go
 *   out as usual. A lookup therefore waits for at most two calls: the one in flight, then its own
 *   (each bounded by the registry's own command timeout).
 */
import type { NameRecord, Registry } from '../registry/index.js';

/** Names read in one registry call at most: one call never holds Redis for long. */
const MAX_LOOKUP_BATCH = 256;

type Answer = NameRecord | undefined;

interface Waiter {
  resolve(record: Answer): void;
  reject(err: unknown): void;
}

export interface NameLookupsOptions {
  readonly maxBatch?: number;
  /** Runs `fn` once the current event-loop turn is over. */
  readonly defer?: (fn: () => void) => void;
}

export class NameLookups {
  readonly #registry: Pick<Registry, 'lookupMany'>;
  readonly #maxBatch: number;
  readonly #defer: (fn: () => void) => void;
  /** Lookups not sent yet, by name. */
  #queue = new Map<string, Waiter[]>();
  #inFlight = false;
  #scheduled = false;

  constructor(registry: Pick<Registry, 'lookupMany'>, opts: NameLookupsOptions = {}) {
    this.#registry = registry;
    this.#maxBatch = Math.max(1, opts.maxBatch ?? MAX_LOOKUP_BATCH);
    this.#defer = opts.defer ?? setImmediate;
  }

  lookup(name: string): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      const waiting = this.#queue.get(name);
      if (waiting) waiting.push({ resolve, reject });
      else this.#queue.set(name, [{ resolve, reject }]);
      if (!this.#inFlight && !this.#scheduled) {
        this.#scheduled = true;
        this.#defer(() => {
          this.#scheduled = false;
          this.#send();
        });
      }
    });
  }

  /** Sends everything queued (when nothing is in flight); sends again when it has settled. */
  #send(): void {
    if (this.#inFlight || this.#queue.size === 0) return;
    const batch = [...this.#queue];
    this.#queue = new Map();
    this.#inFlight = true;
    const calls: Promise<void>[] = [];
    for (let i = 0; i < batch.length; i += this.#maxBatch) {
      calls.push(this.#call(batch.slice(i, i + this.#maxBatch)));
    }
    void Promise.all(calls).then(() => {
      this.#inFlight = false;
      this.#send();
    });
  }

  /** One registry call for `part`; settles every waiter in it; never rejects. */
  async #call(part: [string, Waiter[]][]): Promise<void> {
    let records: Answer[];
    try {
      records = await this.#registry.lookupMany(part.map(([name]) => name));
    } catch (err) {
      for (const [, waiters] of part) for (const w of waiters) w.reject(err);
      return;
    }
    part.forEach(([, waiters], i) => {
      for (const w of waiters) w.resolve(records[i]);
    });
  }
}
