import type { AuditEvent } from '../audit/audit.js';
import type { ConnectRefusal } from '../core/refusals.js';

/**
 * What a relay tells an observer (its metrics) besides what `stats()` answers at any time.
 *
 * Contract: calls happen on the relay's control path (one per audit event, one per client
 * connection asked for), never per chunk of data; an observer must not throw or block. A relay
 * given no observer calls nothing.
 */
export interface RelayObserver {
  /** Every audit event the relay records, before the audit budget (audit/limits.ts) drops any. */
  audited(event: AuditEvent): void;
  /** A client asked for a name by `path`: bridged to the device, or refused with a reason. */
  clientConnection(path: ClientPath, result: 'bridged' | ConnectRefusal): void;
}

/**
 * How a client's connection reaches its device: `local` (both connected here), `forwarded-out`
 * (over a peer link to the relay holding the name), `forwarded-in` (from a peer relay's link to a
 * device connected here).
 */
export const CLIENT_PATHS = ['local', 'forwarded-out', 'forwarded-in'] as const;
export type ClientPath = (typeof CLIENT_PATHS)[number];
