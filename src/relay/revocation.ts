import type { Route } from '../core/names.js';
import type { PolicySet } from '../core/policy-set.js';
import type { RevokeReason } from '../core/refusals.js';

/**
 * Re-judging what live connections hold against a new policy snapshot (or a later clock). Pure: no
 * sockets, no timers; the relay applies the actions and arms the one timer `wakeAt` asks for.
 *
 * Contract:
 * - A connection whose key the snapshot no longer authorises from its source at `now` is closed,
 *   with the reason sshd would have refused it: `key-revoked` (the key is gone), `key-expired`
 *   (every line for it has passed its expiry-time), `key-from-mismatch` (from= no longer matches).
 *   A closed connection gets no other action: closing releases everything it holds.
 * - A connection whose key is still authorised loses exactly the registered routes its current
 *   line no longer permits (`release`) and the open bridges it may no longer reach (`cut`);
 *   everything still permitted is left alone, and a connection that keeps everything gets no
 *   action at all.
 * - `wakeAt` is the soonest moment (ms) one of the surviving connections' lines expires, so one
 *   timer is enough to act on expiry without a reload.
 */

/** What one authenticated connection holds, as the relay's re-judging sees it. */
export interface Holding {
  readonly conn: string;
  readonly keyBlob: Buffer;
  readonly ip: string;
  /** Routes it has registered (as a device). */
  readonly names: readonly Route[];
  /** Routes it reaches through open bridges (as a client). */
  readonly reaching: readonly Route[];
}

/** Sent (as an SSH debug message, shown by `ssh -v`) to a connection closed for its key. */
export const REVOKED_TEXT: Record<RevokeReason, string> = {
  'key-revoked': 'burrow: closing: this key was removed from the relay policy',
  'key-expired': 'burrow: closing: this key has passed its expiry-time',
  'key-from-mismatch': 'burrow: closing: this key may no longer log in from this address',
};

export type RevocationAction =
  | { kind: 'close'; conn: string; reason: RevokeReason }
  | { kind: 'release'; conn: string; route: Route }
  | { kind: 'cut'; conn: string; route: Route };

export interface Judgement {
  readonly actions: RevocationAction[];
  /** ms since the epoch when the next expiry among surviving connections takes effect. */
  readonly wakeAt?: number;
}

export type PolicyView = Pick<PolicySet, 'authorize' | 'mayListen' | 'mayOpen'>;

const REASONS: Record<'unknown-key' | 'expired' | 'from-mismatch', RevokeReason> = {
  'unknown-key': 'key-revoked',
  expired: 'key-expired',
  'from-mismatch': 'key-from-mismatch',
};

export function judge(policy: PolicyView, now: number, held: readonly Holding[]): Judgement {
  const actions: RevocationAction[] = [];
  let wakeAt: number | undefined;
  for (const h of held) {
    const verdict = policy.authorize(h.keyBlob, h.ip, now);
    if (!verdict.ok) {
      actions.push({ kind: 'close', conn: h.conn, reason: REASONS[verdict.reason] });
      continue;
    }
    const { entry } = verdict;
    for (const route of h.names) {
      if (!policy.mayListen(entry, route.name, route.port)) {
        actions.push({ kind: 'release', conn: h.conn, route });
      }
    }
    for (const route of uniqueRoutes(h.reaching)) {
      if (!policy.mayOpen(entry, route.name, route.port)) {
        actions.push({ kind: 'cut', conn: h.conn, route });
      }
    }
    if (entry.expiresAt !== undefined) {
      // sshd compares whole seconds: the key is refused once the clock reaches the next second.
      const at = entry.expiresAt + 1000;
      wakeAt = wakeAt === undefined ? at : Math.min(wakeAt, at);
    }
  }
  return wakeAt === undefined ? { actions } : { actions, wakeAt };
}

function uniqueRoutes(routes: readonly Route[]): Route[] {
  const seen = new Map<string, Route>();
  for (const r of routes) seen.set(`${r.name}:${r.port}`, r);
  return [...seen.values()];
}
