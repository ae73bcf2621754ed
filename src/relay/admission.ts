/**
 * Caps on connections that have not authenticated yet, in total and per source address, so a
 * flood of half-open or slow handshakes cannot starve real devices. Pure bookkeeping.
 *
 * Contract: every `admit` that returned ok must be followed by exactly one `settle` (when the
 * connection authenticates or closes, whichever is first).
 */
export type AdmitResult = { ok: true } | { ok: false; reason: 'max-startups' | 'max-per-source' };

export class Admission {
  readonly #maxTotal: number;
  readonly #maxPerSource: number;
  readonly #bySource = new Map<string, number>();
  #total = 0;

  constructor(maxTotal: number, maxPerSource: number) {
    this.#maxTotal = maxTotal;
    this.#maxPerSource = maxPerSource;
  }

  get pending(): number {
    return this.#total;
  }

  admit(source: string): AdmitResult {
    if (this.#total >= this.#maxTotal) return { ok: false, reason: 'max-startups' };
    const n = this.#bySource.get(source) ?? 0;
    if (n >= this.#maxPerSource) return { ok: false, reason: 'max-per-source' };
    this.#bySource.set(source, n + 1);
    this.#total += 1;
    return { ok: true };
  }

  settle(source: string): void {
    const n = this.#bySource.get(source);
    if (n === undefined) return;
    if (n <= 1) this.#bySource.delete(source);
    else this.#bySource.set(source, n - 1);
    this.#total -= 1;
  }
}

/** `::ffff:10.0.0.1` and `10.0.0.1` are one source. */
export function normalizeAddress(addr: string | undefined): string {
  if (!addr) return '?';
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}
