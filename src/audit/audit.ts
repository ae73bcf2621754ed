import type { Writable } from 'node:stream';

/**
 * Security audit events: one JSON object per line. Field values are identifiers, addresses,
 * fingerprints and counters only — never key material, signatures or payload bytes.
 */
export type AuditEvent =
  | { event: 'relay.started'; relay: string; listen: string; host_key: string }
  | { event: 'relay.draining'; relay: string; connections: number }
  | { event: 'relay.stopped'; relay: string }
  | { event: 'policy.loaded'; file: string; keys: number; errors: number }
  | { event: 'conn.refused'; ip: string; reason: string }
  | {
      /** Every refusal of one interval, counted; `conn.refused` is at most one line per source. */
      event: 'conn.refused.summary';
      refused: number;
      by_reason: Record<string, number>;
      sources: number;
      sources_capped?: true;
      interval_ms: number;
    }
  | { event: 'conn.closed'; conn: string; ip: string; fp?: string; reason: string; ms: number }
  | { event: 'auth.accepted'; conn: string; ip: string; user: string; fp: string; key: string }
  | {
      event: 'auth.refused';
      conn: string;
      ip: string;
      user: string;
      method: string;
      fp?: string;
      reason: string;
    }
  /** Refusals on one connection beyond those audited one by one as auth.refused. */
  | {
      event: 'auth.summary';
      conn: string;
      ip: string;
      refused: number;
      unaudited: number;
      last_reason: string;
    }
  | { event: 'name.registered'; conn: string; fp: string; name: string; port: number; form: string }
  | {
      event: 'name.refused';
      conn: string;
      fp: string;
      request: string;
      reason: string;
      held_by?: string;
    }
  | {
      event: 'name.taken_over';
      conn: string;
      previous: string;
      fp: string;
      name: string;
      port: number;
    }
  | { event: 'name.released'; conn: string; fp: string; name: string; port: number; reason: string }
  /**
   * The key holding `name` registered it on another relay: audited by the relay it left (with
   * the stale connection it closes) and by the relay it moved to.
   */
  | {
      event: 'name.moved';
      conn?: string;
      fp: string;
      name: string;
      from_relay: string;
      to_relay: string;
    }
  /** Another key holds `name` in the shared registry (taken while it was unreachable): lost here. */
  | {
      event: 'name.dropped';
      conn: string;
      fp: string;
      name: string;
      held_by: string;
      held_by_relay: string;
    }
  /** The shared registry stopped answering: once per outage, not once per request. */
  | { event: 'registry.lost'; relay: string; reason: string }
  /**
   * The registry answers again and holds every name served here (`names`); `accepted` were
   * registered locally during the outage, `conflicts` had been taken by another key or relay.
   */
  | {
      event: 'registry.restored';
      relay: string;
      names: number;
      accepted: number;
      conflicts: number;
      outage_ms: number;
    }
  /**
   * `via_relay` (cluster): the other relay of a peer link. On the entry relay it is the relay
   * holding the name; on the holder, the relay the client entered through. `device_conn` is `-`
   * on the entry relay of such a connection (the device is connected to the holder).
   */
  | {
      event: 'connect.refused';
      conn: string;
      fp: string;
      to: string;
      via: string;
      via_relay?: string;
      reason: string;
    }
  | {
      event: 'connect.closed';
      conn: string;
      fp: string;
      to: string;
      via: string;
      device_conn: string;
      via_relay?: string;
      bytes_to_device: number;
      bytes_from_device: number;
      ms: number;
    }
  | { event: 'request.refused'; conn: string; fp?: string; request: string; detail?: string }
  /**
   * The auth webhook stopped answering usably (`reason`: webhook-timeout, -unreachable, -status,
   * -malformed): once per outage, not once per request. `url` is redacted.
   */
  | { event: 'webhook.failed'; url: string; reason: string; detail: string }
  /** The auth webhook answers again; `failures` requests went unanswered meanwhile. */
  | { event: 'webhook.restored'; url: string; failures: number; outage_ms: number }
  /** Refusals by `conn` not written one by one (over its budget, audit/limits.ts). */
  | { event: 'audit.suppressed'; conn: string; kind: string; count: number };

export interface AuditSink {
  record(event: AuditEvent): void;
}

/** Writes audit events as JSON lines with an ISO timestamp first. */
export class JsonLinesAudit implements AuditSink {
  readonly #out: Writable;
  readonly #now: () => Date;

  constructor(out: Writable, now: () => Date = () => new Date()) {
    this.#out = out;
    this.#now = now;
  }

  record(event: AuditEvent): void {
    this.#out.write(`${JSON.stringify({ ts: this.#now().toISOString(), ...event })}\n`);
  }
}
