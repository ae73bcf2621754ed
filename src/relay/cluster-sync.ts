/**
 * Keeps a relay's local name table and the shared registry in step: the heartbeat, takeovers
 * announced by other relays, and registry outages. The decisions are reconcile.ts's; this is
 * the I/O around them.
 *
 * Contract:
 * - `beat()` publishes the relay record now (also when one is in flight: another follows it), so
 *   `draining` is published without waiting for the next tick, and hands the registry the routes
 *   of the local table, which it reconciles when it may disagree with them (after an outage it
 *   does: a route accepted meanwhile is published by the first beat that gets through). Beats
 *   never overlap.
 * - A takeover announced on the registry's channel for a name served here is checked against the
 *   registry (`lookup`) before anything is closed, so a stale or forged message cannot drop a
 *   device that is really held here; the heartbeat's conflicts are applied the same way, for
 *   announcements that were lost.
 * - While the relay drains, a connection whose name moved to another relay with the same key is
 *   not closed: its agent is leaving on purpose and closes it once its channels have ended.
 * - An outage is logged and audited once when first noticed (a failed claim or heartbeat) and
 *   once when a heartbeat succeeds again (`registry.restored`), never once per request.
 *   Meanwhile registrations are accepted on the local table alone (the connection asks the
 *   local table first) and the first successful heartbeat publishes them, or reports that
 *   another key took them, and the local holder is dropped.
 * - `close()` stops the timer and the subscription; idempotent.
 */
import type { Logger } from 'pino';
import type { AuditSink } from '../audit/audit.js';
import type { HeldRoute, Registry, RelayRecord, Takeover } from '../registry/registry.js';
import type { NameTable } from './name-table.js';
import type { Observed } from './reconcile.js';
import { reconcile } from './reconcile.js';

/** What cluster sync needs of a connection: its id, and a way to tell it and close it. */
export interface SyncedConnection {
  readonly id: string;
  readonly ssh: { debug(message: string): boolean; destroy(reason?: string): void };
}

export interface ClusterSyncDeps<C extends SyncedConnection> {
  readonly relayId: string;
  readonly table: NameTable<C, unknown>;
  readonly registry: Registry;
  readonly audit: AuditSink;
  readonly log: Logger;
  readonly now: () => number;
  readonly ttlMs: number;
  readonly intervalMs: number;
  /** The relay record as it is now (names, connections, draining...). */
  readonly record: () => Omit<RelayRecord, 'expiresAt'>;
}

export class ClusterSync<C extends SyncedConnection> {
  readonly #d: ClusterSyncDeps<C>;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #inFlight: Promise<void> | undefined;
  #again = false;
  #closed = false;
  /** Set while the registry is unreachable. */
  #outage: { since: number; accepted: number } | undefined;
  /** Connections whose names moved away while this relay drains: left to their agents. */
  readonly #leaving = new Set<string>();

  constructor(deps: ClusterSyncDeps<C>) {
    this.#d = deps;
    this.#log = deps.log.child({ component: 'cluster-sync' });
  }

  /** Subscribes to takeovers, publishes at once, then every `intervalMs`. */
  async start(): Promise<void> {
    try {
      const stop = await this.#d.registry.onTakeover((t) => this.#takeover(t));
      if (this.#closed) stop();
      else this.#unsubscribe = stop;
    } catch (err) {
      // The heartbeat's conflicts still catch every takeover, one interval later.
      this.#log.warn({ err }, 'cannot subscribe to takeovers; relying on the heartbeat');
    }
    this.#timer = setInterval(() => void this.beat(), this.#d.intervalMs);
    this.#timer.unref();
    void this.beat();
  }

  beat(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#inFlight) {
      this.#again = true;
      return this.#inFlight;
    }
    this.#inFlight = this.#beatOnce().finally(() => {
      this.#inFlight = undefined;
      if (this.#again) {
        this.#again = false;
        void this.beat();
      }
    });
    return this.#inFlight;
  }

  /**
   * A claim failed: the registry is unreachable (or broken). The caller accepts the registration
   * locally; it is published, or dropped, by the first heartbeat that gets through.
   */
  claimFailed(err: unknown): void {
    this.#lost(err);
    if (this.#outage) this.#outage.accepted += 1;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#unsubscribe?.();
  }

  async #beatOnce(): Promise<void> {
    const d = this.#d;
    const at = d.now();
    // Read when the registry compares (it may wait for claims in flight), and kept for the audit.
    let held: HeldRoute[] = [];
    const readHeld = () => {
      held = [...d.table.entries()].map((r) => ({ ...r.route, owner: r.owner }));
      return held;
    };
    let conflicts: Awaited<ReturnType<Registry['heartbeat']>>;
    try {
      conflicts = await d.registry.heartbeat(d.record(), readHeld, d.ttlMs);
    } catch (err) {
      this.#lost(err);
      return;
    }
    if (this.#outage) {
      const { since, accepted } = this.#outage;
      this.#outage = undefined;
      if (held.length === 0) readHeld(); // an O(1) heartbeat did not need them
      d.audit.record({
        event: 'registry.restored',
        relay: d.relayId,
        names: new Set(held.map((h) => h.name)).size - conflicts.length,
        accepted,
        conflicts: conflicts.length,
        outage_ms: d.now() - since,
      });
      this.#log.info({ conflicts: conflicts.length }, 'registry reachable again; names published');
    }
    this.#apply(
      conflicts.map((c) => ({ name: c.name, ...c.heldBy })),
      at,
    );
  }

  #lost(err: unknown): void {
    if (this.#outage || this.#closed) return;
    this.#outage = { since: this.#d.now(), accepted: 0 };
    const reason = reasonOf(err);
    this.#d.audit.record({ event: 'registry.lost', relay: this.#d.relayId, reason });
    this.#log.warn(
      { reason },
      'registry unreachable: local routes keep working, new registrations are accepted here',
    );
  }

  #takeover(t: Takeover): void {
    const d = this.#d;
    if (this.#closed) return;
    if (t.to === d.relayId) {
      d.audit.record({
        event: 'name.moved',
        fp: t.owner,
        name: t.name,
        from_relay: t.from,
        to_relay: t.to,
      });
      return;
    }
    if (d.table.ownerOf(t.name) === undefined) return;
    const at = d.now();
    d.registry.lookup(t.name).then(
      (rec) => {
        if (rec && !this.#closed) this.#apply([rec], at);
      },
      (err: unknown) => this.#log.warn({ err, name: t.name }, 'takeover: lookup failed'),
    );
  }

  /** Closes the local connections whose names `observed` (read at `at`) says are held elsewhere. */
  #apply(observed: readonly Observed[], at: number): void {
    if (observed.length === 0) return;
    const d = this.#d;
    const conns = new Map<string, C>();
    const local = [...d.table.entries()].map((r) => {
      conns.set(r.conn.id, r.conn);
      return { ...r.route, owner: r.owner, conn: r.conn.id, since: r.since };
    });
    for (const a of reconcile(d.relayId, local, observed, at)) {
      const conn = conns.get(a.conn);
      if (!conn) continue;
      if (a.kind === 'moved') {
        // A draining relay leaves the stale connection to its agent, which moved on purpose
        // (make-before-break) and closes it once the channels it still carries have ended; the
        // drain grace bounds that. Audited once.
        const draining = d.record().draining;
        if (draining && this.#leaving.has(a.conn)) continue;
        if (draining) this.#leaving.add(a.conn);
        d.audit.record({
          event: 'name.moved',
          conn: a.conn,
          fp: a.owner,
          name: a.name,
          from_relay: d.relayId,
          to_relay: a.toRelay,
        });
        if (draining) continue;
        conn.ssh.debug(`burrow: ${a.name} is now registered on another relay; closing`);
        conn.ssh.destroy('taken-over');
      } else {
        d.audit.record({
          event: 'name.dropped',
          conn: a.conn,
          fp: a.owner,
          name: a.name,
          held_by: a.heldBy,
          held_by_relay: a.heldByRelay,
        });
        conn.ssh.debug(`burrow: ${a.name} is registered by another key; closing`);
        conn.ssh.destroy('name-held');
      }
    }
  }
}

/** First line of an error, for the one audit line an outage gets. */
function reasonOf(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return (text.split('\n')[0] ?? '').slice(0, 200) || 'unknown error';
}
