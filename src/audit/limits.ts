import type { AuditEvent, AuditSink } from './audit.js';

/**
 * Bounds on what a peer can make the audit trail write, so the trail cannot fill a disk.
 *
 * Contract:
 * - Every string field of every event is at most MAX_FIELD characters (plus a `…(+N)` marker
 *   saying how many were cut), and holds no control or bidi-override characters (each becomes
 *   `?`), whoever wrote it: a line is bounded whatever a peer sends.
 * - Refusal events (`*.refused` with a `conn`) are written at most `budget` per connection per
 *   window; the rest are counted, and one `audit.suppressed` line per event kind gives the count
 *   when the connection writes again after its window ends, and when it closes (just before its
 *   `conn.closed`). Nothing is dropped without being counted; state per connection ends with it.
 * - Other events (what the policy permitted, lifecycle) are always written.
 */

export const MAX_FIELD = 256;
export const REFUSAL_BUDGET = 20;
export const REFUSAL_WINDOW_MS = 10_000;

// Control characters (C0, DEL, C1), line/paragraph separators and bidi overrides.
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are what is being removed
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** `text` made safe to write: unsafe characters replaced, and cut to `max` with a marker. */
export function capField(text: string, max = MAX_FIELD): string {
  const kept = text.length > max ? text.slice(0, max) : text;
  const safe = kept.replace(UNSAFE, '?');
  return text.length > max ? `${safe}…(+${text.length - max})` : safe;
}

/** The event with every string field capped. */
export function capEvent<E extends AuditEvent>(event: E): E {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(event)) out[k] = typeof v === 'string' ? capField(v) : v;
  return out as E;
}

export interface Suppressed {
  readonly conn: string;
  readonly kind: string;
  readonly count: number;
}

/**
 * Per-connection fixed-window budget for refusal events. Pure: the caller passes the clock.
 * Holds one small entry per connection that has written a refusal, until `close(conn)`.
 */
export class RefusalBudget {
  readonly #budget: number;
  readonly #windowMs: number;
  readonly #conns = new Map<string, { start: number; used: number; over: Map<string, number> }>();

  constructor(budget = REFUSAL_BUDGET, windowMs = REFUSAL_WINDOW_MS) {
    this.#budget = budget;
    this.#windowMs = windowMs;
  }

  /** Connections with budget state, for tests and stats. */
  get size(): number {
    return this.#conns.size;
  }

  /**
   * Whether a refusal of `kind` by `conn` at `now` is written, and the summaries of the previous
   * window (to write first) when that window has ended.
   */
  admit(conn: string, kind: string, now: number): { write: boolean; summaries: Suppressed[] } {
    let state = this.#conns.get(conn);
    let summaries: Suppressed[] = [];
    if (state && now - state.start >= this.#windowMs) {
      summaries = this.#summaries(conn);
      state = undefined;
    }
    if (!state) {
      state = { start: now, used: 0, over: new Map() };
      this.#conns.set(conn, state);
    }
    if (state.used < this.#budget) {
      state.used += 1;
      return { write: true, summaries };
    }
    state.over.set(kind, (state.over.get(kind) ?? 0) + 1);
    return { write: false, summaries };
  }

  /** Forgets `conn`; returns what it had suppressed and not yet reported. */
  close(conn: string): Suppressed[] {
    const summaries = this.#summaries(conn);
    this.#conns.delete(conn);
    return summaries;
  }

  #summaries(conn: string): Suppressed[] {
    const over = this.#conns.get(conn)?.over;
    return over ? [...over].map(([kind, count]) => ({ conn, kind, count })) : [];
  }
}

const LIMITED: ReadonlySet<AuditEvent['event']> = new Set([
  'auth.refused',
  'name.refused',
  'connect.refused',
  'request.refused',
]);

/** An AuditSink that caps every event and holds each connection's refusals to a budget. */
export class LimitedAudit implements AuditSink {
  readonly #inner: AuditSink;
  readonly #now: () => number;
  readonly #budget: RefusalBudget;

  constructor(inner: AuditSink, now: () => number, budget = new RefusalBudget()) {
    this.#inner = inner;
    this.#now = now;
    this.#budget = budget;
  }

  record(event: AuditEvent): void {
    const conn = 'conn' in event ? event.conn : undefined;
    if (conn !== undefined && LIMITED.has(event.event)) {
      const verdict = this.#budget.admit(conn, event.event, this.#now());
      this.#report(verdict.summaries);
      if (!verdict.write) return;
    } else if (conn !== undefined && event.event === 'conn.closed') {
      this.#report(this.#budget.close(conn));
    }
    this.#inner.record(capEvent(event));
  }

  #report(summaries: Suppressed[]): void {
    for (const s of summaries) this.#inner.record({ event: 'audit.suppressed', ...s });
  }
}
