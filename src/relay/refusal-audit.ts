import type { AuditSink } from '../audit/audit.js';

/**
 * Audit of connections refused before authentication, rate-limited so a flood cannot turn the
 * audit trail into its amplifier: at most one `conn.refused` line per source per interval (the
 * first refusal of that source in it), and at the end of each interval that saw refusals one
 * `conn.refused.summary` line with the counts by reason and the number of distinct sources.
 *
 * Contract: memory is bounded by `maxSources` per interval; sources beyond it are counted in the
 * summary's totals but get no line of their own, and the summary says `sources_capped`.
 * `flush()` is called by the owner's timer every `intervalMs`; it writes nothing for a quiet
 * interval.
 */
export class RefusalAudit {
  readonly #audit: AuditSink;
  readonly #intervalMs: number;
  readonly #maxSources: number;
  #seen = new Set<string>();
  #capped = false;
  #byReason = new Map<string, number>();
  #total = 0;

  constructor(audit: AuditSink, intervalMs: number, maxSources = 10_000) {
    this.#audit = audit;
    this.#intervalMs = intervalMs;
    this.#maxSources = maxSources;
  }

  refused(ip: string, source: string, reason: string): void {
    this.#total += 1;
    this.#byReason.set(reason, (this.#byReason.get(reason) ?? 0) + 1);
    if (this.#seen.has(source)) return;
    if (this.#seen.size >= this.#maxSources) {
      this.#capped = true;
      return;
    }
    this.#seen.add(source);
    this.#audit.record({ event: 'conn.refused', ip, reason });
  }

  /** Ends the interval: writes its summary if anything was refused, and starts a new one. */
  flush(): void {
    if (this.#total === 0) return;
    this.#audit.record({
      event: 'conn.refused.summary',
      refused: this.#total,
      by_reason: Object.fromEntries(this.#byReason),
      sources: this.#seen.size,
      ...(this.#capped ? { sources_capped: true } : {}),
      interval_ms: this.#intervalMs,
    });
    this.#seen = new Set();
    this.#capped = false;
    this.#byReason = new Map();
    this.#total = 0;
  }
}
