/**
 * Caps on connections that have not authenticated yet, in total and per source, so a flood of
 * half-open or slow handshakes cannot starve real users and devices. Pure bookkeeping; the
 * randomness is injected.
 *
 * The total cap is OpenSSH's `MaxStartups start:rate:full` random early drop: below `start`
 * every connection is admitted; from `start` to `full` a connection is refused with a
 * probability rising linearly from `rate`% to 100%; at `full` every one is refused. Unlike
 * sshd, a source's *first* pending connection is exempt from the early drop, and at `full` it is
 * admitted by evicting one pending connection of the source holding the most (when that source
 * holds at least two): a flood holding many handshakes per source cannot crowd out a source
 * that asks for one. A flood of one handshake from each of `full` sources still fills the
 * table; the source penalties (penalties.ts) empty it again as its connections stall.
 *
 * Contract: every `admit` that returned ok must be followed by exactly one `settle` for that
 * source (when the connection authenticates or closes, whichever is first). When `admit`
 * returns `evict`, the caller closes one pending connection of that source (which then
 * settles); until it has, `pending` may exceed `full` by the evictions in flight.
 */
export type AdmitResult =
  | { ok: true; evict?: string }
  | { ok: false; reason: 'max-startups' | 'max-per-source' };

export interface StartupLimits {
  /** Early drop starts at this many pending connections. */
  readonly start: number;
  /** Refusal probability at `start`, in percent. */
  readonly rate: number;
  /** Every connection is refused at this many (save a source's first, see above). */
  readonly full: number;
  readonly perSource: number;
}

export class Admission {
  readonly #limits: StartupLimits;
  readonly #random: () => number;
  readonly #bySource = new Map<string, number>();
  #total = 0;

  constructor(limits: StartupLimits, random: () => number = Math.random) {
    this.#limits = limits;
    this.#random = random;
  }

  get pending(): number {
    return this.#total;
  }

  /** Pending connections from one source. */
  pendingFrom(source: string): number {
    return this.#bySource.get(source) ?? 0;
  }

  /** The probability that a source already holding a pending connection is refused now. */
  dropProbability(): number {
    const { start, rate, full } = this.#limits;
    if (this.#total < start) return 0;
    if (this.#total >= full) return 1;
    return rate / 100 + ((1 - rate / 100) * (this.#total - start)) / (full - start);
  }

  admit(source: string): AdmitResult {
    const n = this.#bySource.get(source) ?? 0;
    if (n >= this.#limits.perSource) return { ok: false, reason: 'max-per-source' };
    let evict: string | undefined;
    if (n === 0) {
      if (this.#total >= this.#limits.full) {
        evict = this.#heaviest();
        if (evict === undefined) return { ok: false, reason: 'max-startups' };
      }
    } else {
      const p = this.dropProbability();
      if (p >= 1 || (p > 0 && this.#random() < p)) return { ok: false, reason: 'max-startups' };
    }
    this.#bySource.set(source, n + 1);
    this.#total += 1;
    return evict === undefined ? { ok: true } : { ok: true, evict };
  }

  settle(source: string): void {
    const n = this.#bySource.get(source);
    if (n === undefined) return;
    if (n <= 1) this.#bySource.delete(source);
    else this.#bySource.set(source, n - 1);
    this.#total -= 1;
  }

  /**
   * The source holding the most pending connections, if it holds at least two. A scan of at most
   * `full` sources, done only when the table is full.
   */
  #heaviest(): string | undefined {
    let best: string | undefined;
    let most = 1;
    for (const [source, n] of this.#bySource) {
      if (n > most) {
        best = source;
        most = n;
      }
    }
    return best;
  }
}

/** `::ffff:10.0.0.1` and `10.0.0.1` are one address. */
export function normalizeAddress(addr: string | undefined): string {
  if (!addr) return '?';
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}
