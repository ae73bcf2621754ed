import type { AuditEvent } from '../audit/audit.js';
import { PEER_USER } from '../core/constants.js';
import type { PolicyEntry } from '../core/policy/index.js';
import { WEBHOOK_ENTRY_FILE } from '../core/policy/webhook-answer.js';
import type { AuthAttempt, SshConnection } from '../ssh/connection.js';
import { fingerprintOf } from '../ssh/keys.js';
import { AuthFailures, type AuthSummary } from './auth-failures.js';
import type { PendingAuth, RelayContext } from './connection.js';
import { CAP_REFUSAL_TEXT, sourceOf } from './connection-caps.js';

/**
 * Authentication of one relay connection: public keys only, judged against the current policy
 * from the connection's source at `now`, then (for a signed attempt) against the per-key and
 * per-source caps on idle connections. A peer relay's host key (cluster, --peers) is checked
 * before the policy file and is not capped.
 *
 * Contract: a signed attempt that `attempt` accepts has been admitted by `ctx.caps` (the caller
 * now owns that count) and audited as `auth.accepted`; every refused attempt is counted the way
 * sshd counts (auth-failures.ts), audited within that bound, reported to `pending.authFailed`, and
 * the connection is destroyed with `max-auth-tries` once the tries are used up.
 *
 * auth webhook (`ctx.hook`): a key the policy file does not list is judged by the hook. A "would
 * you accept" query is answered yes unless a deny for the key is fresh, so the hook is only asked
 * (and its answer only used) once the client has proven it holds the private key; that signed
 * attempt is then decided asynchronously, and refused if the connection closed meanwhile.
 */

/** What authentication needs of the connection it serves. */
export interface AuthParty {
  readonly id: string;
  readonly pending: PendingAuth;
  readonly ssh: Pick<SshConnection, 'banner' | 'destroy'>;
  /** True once the connection has closed (an asynchronous decision then refuses). */
  readonly closed: () => boolean;
}

type AuthContext = Pick<
  RelayContext,
  'policy' | 'now' | 'caps' | 'audit' | 'maxAuthTries' | 'cluster' | 'hook'
>;

export class ConnectionAuth {
  readonly #party: AuthParty;
  readonly #ctx: AuthContext;
  readonly #failures: AuthFailures;
  #tried = false;
  #key: { blob: Buffer; fp: string } | undefined;
  #admitted = false;
  #peer: { relay: string } | undefined;

  constructor(party: AuthParty, ctx: AuthContext) {
    this.#party = party;
    this.#ctx = ctx;
    this.#failures = new AuthFailures(ctx.maxAuthTries);
  }

  /** True once any authentication attempt was made. */
  get tried(): boolean {
    return this.#tried;
  }

  /** The key a signed attempt was accepted with. */
  get key(): { readonly blob: Buffer; readonly fp: string } | undefined {
    return this.#key;
  }

  /** True once a signed attempt was admitted by `ctx.caps` (the connection is counted there). */
  get admitted(): boolean {
    return this.#admitted;
  }

  /**
   * cluster: set when the key is a peer relay's host key (--peers); `relay` is the id it
   * announced in its user name (it only labels audit lines).
   */
  get peer(): { readonly relay: string } | undefined {
    return this.#peer;
  }

  /** The refused attempts, for the `auth.summary` line; undefined when every one was audited. */
  summary(): AuthSummary | undefined {
    return this.#failures.summary();
  }

  attempt(a: AuthAttempt): boolean | Promise<boolean> {
    const { pending } = this.#party;
    this.#tried = true;
    this.#failures.attempt();
    // The user name is the peer's to choose and means nothing to the relay; keep it short.
    const user = a.username.slice(0, 64);
    const base = { conn: this.#party.id, ip: pending.ip, user, method: a.method.slice(0, 32) };
    if (a.method !== 'publickey' || !a.keyBlob) {
      this.#failed({ ...base, reason: 'method-not-allowed' });
      return false;
    }
    const fp = fingerprintOf(a.keyBlob);
    // cluster: a peer relay's host key is checked before the policy file.
    const peer = this.#ctx.cluster?.peerOf(a.keyBlob);
    if (peer) {
      if (!a.signed) return true;
      const announced = user.startsWith(`${PEER_USER} `) ? user.slice(PEER_USER.length + 1) : '?';
      this.#peer = { relay: announced };
      this.#key = { blob: a.keyBlob, fp };
      this.#ctx.audit.record({ ...base, event: 'auth.accepted', fp, key: `peers ${peer.source}` });
      return true;
    }
    const verdict = this.#ctx.policy().authorize(a.keyBlob, pending.ip, this.#ctx.now());
    const hook = this.#ctx.hook;
    const hooked = verdict.ok
      ? verdict.entry.file === WEBHOOK_ENTRY_FILE
      : verdict.reason === 'unknown-key';
    if (hook && hooked) {
      if (!a.signed) {
        if (hook.mayTry(a.keyBlob)) return true;
        this.#failed({ ...base, fp, reason: 'webhook-denied' });
        return false;
      }
      const blob = a.keyBlob;
      return hook.login(blob, pending.ip, user).then((v) => {
        if (this.#party.closed()) return false;
        if (v.ok) return this.#accept(blob, fp, base, v.entry);
        this.#failed({ ...base, fp, reason: v.reason });
        return false;
      });
    }
    if (!verdict.ok) {
      this.#failed({ ...base, fp, reason: verdict.reason });
      return false;
    }
    if (!a.signed) return true;
    return this.#accept(a.keyBlob, fp, base, verdict.entry);
  }

  /** A signed attempt the policy allows: admitted under the caps, or refused by them. */
  #accept(
    blob: Buffer,
    fp: string,
    base: { conn: string; ip: string; user: string; method: string },
    entry: PolicyEntry,
  ): boolean {
    const capped = this.#ctx.caps.admit(fp, sourceOf(base.ip));
    if (!capped.ok) {
      this.#party.ssh.banner(`${CAP_REFUSAL_TEXT[capped.reason]}\r\n`);
      this.#failed({ ...base, fp, reason: capped.reason });
      return false;
    }
    this.#admitted = true;
    this.#key = { blob, fp };
    this.#ctx.audit.record({
      event: 'auth.accepted',
      conn: base.conn,
      ip: base.ip,
      user: base.user,
      fp,
      key: entry.file === WEBHOOK_ENTRY_FILE ? WEBHOOK_ENTRY_FILE : `${entry.file}:${entry.line}`,
    });
    return true;
  }

  #failed(e: Omit<Extract<AuditEvent, { event: 'auth.refused' }>, 'event'>) {
    const v = this.#failures.refused(e.method, e.reason);
    if (v.audit) this.#ctx.audit.record({ event: 'auth.refused', ...e });
    this.#party.pending.authFailed();
    if (v.disconnect) this.#party.ssh.destroy('max-auth-tries');
  }
}
