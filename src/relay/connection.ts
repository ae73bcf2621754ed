import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { AuditSink } from '../audit/audit.js';
import type { ClusterRouter } from '../cluster/router.js';
import { type Route, routeKey } from '../core/names.js';
import type { PolicyEntry } from '../core/policy/index.js';
import { forwardRefusedText, type RegisterRefusal, type RevokeReason } from '../core/refusals.js';
import type { Registry } from '../registry/registry.js';
import type {
  AuthAttempt,
  DirectRequest,
  ExecStream,
  ForwardTarget,
  RefusedKind,
  RejectOpen,
  SshConnection,
  SshConnectionHandler,
} from '../ssh/connection.js';
import { ConnectionAuth } from './auth.js';
import type { AuthWebhook } from './auth-webhook.js';
import { BridgeSet } from './bridges.js';
import { ChannelCount } from './channel-count.js';
import { Connecting } from './connect.js';
import { type ConnectionCaps, sourceOf } from './connection-caps.js';
import type { NameTable } from './name-table.js';
import type { RelayObserver } from './observer.js';
import { describeTarget, routeOf } from './requests.js';
import { type Holding, type PolicyView, REVOKED_TEXT } from './revocation.js';

/** Shared state and settings every connection of one relay sees. */
export interface RelayContext {
  readonly relayId: string;
  readonly table: NameTable<RelayConnection, ForwardTarget>;
  /** The policy file, with the auth webhook's live allows behind it when there is one. */
  readonly policy: () => PolicyView;
  readonly registry: Registry;
  readonly audit: AuditSink;
  readonly log: Logger;
  readonly now: () => number;
  readonly maxAuthTries: number;
  /** Authenticated connections holding no name, per key and per source. */
  readonly caps: ConnectionCaps;
  readonly maxChannels: number;
  readonly registryTtlMs: number;
  /** Cluster hook (cluster-sync.ts): a claim failed; the registration is accepted locally. */
  readonly claimFailed: (err: unknown) => void;
  readonly isDraining: () => boolean;
  /** Called once when a connection has closed and released everything it held. */
  readonly forget: (conn: RelayConnection) => void;
  /** Called once a connection has authenticated, so its key's expiry can be watched. */
  readonly authenticated: (conn: RelayConnection) => void;
  /** cluster: peer relays (--peers) and names held elsewhere; absent on a lone relay. */
  readonly cluster?: ClusterRouter;
  /** Metrics hook (observer.ts); absent when metrics are off. */
  readonly observer?: RelayObserver;
  /** The auth webhook (--auth-webhook), for keys the policy file does not list. */
  readonly hook?: AuthWebhook;
}

/** Per-socket bookkeeping from before the SSH layer existed, handed to the connection. */
export interface PendingAuth {
  readonly ip: string;
  readonly port: number;
  /** Called when the connection closes (any number of times; only the first counts). */
  settle(): void;
  /** Called when the connection has authenticated: it no longer counts as pending. */
  authenticated(): void;
  /** Called on each failed authentication attempt (for the source's penalty). */
  authFailed(): void;
}

let nextId = 0;

/**
 * One SSH connection to the relay: a device registering names, a client reaching them, or both.
 * Every decision is made against the *current* policy, so a reload applies to live connections'
 * next requests without dropping them.
 */
export class RelayConnection implements SshConnectionHandler {
  readonly id = `c${(++nextId).toString(36)}`;
  readonly ssh: SshConnection;
  readonly #ctx: RelayContext;
  readonly #pending: PendingAuth;
  readonly #log: Logger;
  readonly #routes = new Map<string, Route>();
  readonly #opened: number;
  readonly #auth: ConnectionAuth;
  readonly #connecting: Connecting;
  /** True while this connection is counted in `ctx.caps` (authenticated, holding no name). */
  #counted = false;
  #closed = false;
  /**
   * Forwarded channels open on this connection, as client or as device. Changed only by the
   * connecting path (connect.ts), of this connection or of a client reaching one of its names.
   */
  readonly channels = new ChannelCount();
  /**
   * Every bridge this connection is an end of (as client or as device). Added to and removed from
   * only by the connecting path (connect.ts); aborted here on close, release and revocation.
   */
  readonly bridges = new BridgeSet();

  constructor(ssh: SshConnection, pending: PendingAuth, ctx: RelayContext) {
    this.ssh = ssh;
    this.#pending = pending;
    this.#ctx = ctx;
    this.#opened = ctx.now();
    this.#log = ctx.log.child({ conn: this.id, ip: pending.ip });
    this.#auth = new ConnectionAuth({ id: this.id, pending, ssh, closed: () => this.#closed }, ctx);
    this.#connecting = new Connecting(
      {
        id: this.id,
        ip: pending.ip,
        port: pending.port,
        channels: this.channels,
        bridges: this.bridges,
        fp: () => this.#fp,
        isClosed: () => this.#closed,
        peer: () => this.#auth.peer,
        entry: () => this.#entry(),
        refused: (kind, detail) => this.refused(kind, detail),
      },
      ctx,
    );
  }

  /** Forwarded channels open on this connection, as client or as device. */
  get activeChannels(): number {
    return this.channels.open;
  }

  get #fp(): string | undefined {
    return this.#auth.key?.fp;
  }

  // --- authentication (see auth.ts) ----------------------------------------------------------

  authenticate(a: AuthAttempt): boolean | Promise<boolean> {
    if (this.#closed) return false;
    const ok = this.#auth.attempt(a);
    // An attempt admitted by ctx.caps made this connection counted there.
    const settle = (yes: boolean) => {
      if (yes && this.#auth.admitted) this.#counted = true;
      return yes;
    };
    return typeof ok === 'boolean' ? settle(ok) : ok.then(settle);
  }

  /**
   * Keeps `ctx.caps` in step with this connection: counted while authenticated, open and holding
   * no name. Call after anything that changes one of those.
   */
  #recount(): void {
    const fp = this.#fp;
    if (fp === undefined) return;
    const count = !this.#closed && this.#routes.size === 0;
    if (count === this.#counted) return;
    this.#counted = count;
    const source = sourceOf(this.#pending.ip);
    if (count) this.#ctx.caps.add(fp, source);
    else this.#ctx.caps.remove(fp, source);
  }

  ready(): void {
    this.#pending.authenticated();
    this.#log.debug({ fp: this.#fp }, 'authenticated');
    this.#ctx.authenticated(this);
  }

  // --- revocation (see revocation.ts) ---------------------------------------------------------

  /** What this connection holds, once authenticated and while open. */
  get holding(): Holding | undefined {
    const key = this.#auth.key;
    // cluster: a peer link is judged by the peers file, not the policy file.
    if (!key || this.#closed || this.#auth.peer) return undefined;
    const names = [...this.#routes.values()];
    return {
      conn: this.id,
      keyBlob: key.blob,
      ip: this.#pending.ip,
      names,
      reaching: this.bridges.reaching(),
    };
  }

  /** The key no longer logs in: everything it holds is released as the connection closes. */
  revoke(reason: RevokeReason): void {
    this.ssh.debug(REVOKED_TEXT[reason]);
    this.ssh.destroy(reason);
  }

  /** The key may no longer register `route`: release it and cut the sessions it serves. */
  releaseName(route: Route): void {
    this.bridges.abort(route, false);
    this.#release(route, 'not-permitted');
    this.ssh.debug(forwardRefusedText('not-permitted', `${routeKey(route)} (released)`));
  }

  /** The key may no longer reach `route`: close this connection's sessions to it. */
  cutBridges(route: Route): void {
    this.bridges.abort(route, true);
  }

  /** The policy line that currently authorises this connection's key, if any. */
  #entry(): PolicyEntry | undefined {
    const key = this.#auth.key;
    if (!key) return undefined;
    const v = this.#ctx.policy().authorize(key.blob, this.#pending.ip, this.#ctx.now());
    return v.ok ? v.entry : undefined;
  }

  // --- registration ---------------------------------------------------------------------------

  async forward(target: ForwardTarget): Promise<boolean> {
    const ctx = this.#ctx;
    const fp = this.#fp ?? '?';
    const request = describeTarget(target);
    const refuse = (reason: RegisterRefusal, heldBy?: string) => {
      this.ssh.debug(forwardRefusedText(reason, request));
      ctx.audit.record({
        event: 'name.refused',
        conn: this.id,
        fp,
        request,
        reason,
        ...(heldBy ? { held_by: heldBy } : {}),
      });
      return false;
    };
    const parsed = routeOf(target);
    if ('error' in parsed) return refuse(parsed.error);
    const route = parsed.route;
    if (this.#auth.peer) return refuse('not-permitted'); // cluster: a peer link registers nothing
    const entry = this.#entry();
    if (!entry) return refuse('key-not-authorized');
    if (!ctx.policy().mayListen(entry, route.name, route.port)) return refuse('not-permitted');
    if (ctx.isDraining()) return refuse('relay-draining');
    const localOwner = ctx.table.ownerOf(route.name);
    if (localOwner !== undefined && localOwner !== fp) return refuse('name-held', localOwner);

    // The shared registry decides first; the local table changes only once it has agreed, so a
    // registry that refuses never costs an existing registration its route. Cluster hook: a
    // registry that cannot answer leaves the local table to decide; the next heartbeat that
    // reaches it publishes the name or drops it (cluster-sync.ts).
    const claim = await ctx.registry
      .claim({ ...route, owner: fp, relayId: ctx.relayId, ttlMs: ctx.registryTtlMs })
      .catch((err: unknown) => ctx.claimFailed(err));
    if (claim && !claim.ok) return refuse('name-held', claim.heldBy.owner);
    if (this.#closed) return false;

    const res = ctx.table.register({ route, owner: fp, conn: this, target, since: ctx.now() });
    if (!res.ok) return refuse('name-held', res.heldBy);
    this.#routes.set(routeKey(route), route);
    this.#recount();
    ctx.audit.record({
      event: 'name.registered',
      conn: this.id,
      fp,
      name: route.name,
      port: route.port,
      form: target.kind,
    });
    if (res.replaced) {
      const stale = res.replaced.conn;
      ctx.audit.record({
        event: 'name.taken_over',
        conn: this.id,
        previous: stale.id,
        fp,
        name: route.name,
        port: route.port,
      });
      // The stale connection's own teardown cannot remove this route: the table only releases
      // a route for the connection that still serves it.
      stale.#routes.delete(routeKey(route));
      stale.ssh.destroy('taken-over');
      stale.#recount();
    }
    return true;
  }

  cancelForward(target: ForwardTarget): void {
    const parsed = routeOf(target);
    if ('route' in parsed) this.#release(parsed.route, 'cancelled');
  }

  #release(route: Route, reason: string): void {
    const key = routeKey(route);
    if (!this.#routes.delete(key)) return;
    this.#recount();
    if (!this.#ctx.table.release(route, this)) return;
    this.#ctx.registry.release(route.name, route.port, this.#ctx.relayId).catch(() => {});
    this.#ctx.audit.record({
      event: 'name.released',
      conn: this.id,
      fp: this.#fp ?? '?',
      name: route.name,
      port: route.port,
      reason,
    });
  }

  // --- connecting to names (see connect.ts) ----------------------------------------------------

  direct(req: DirectRequest, accept: () => Duplex, reject: RejectOpen): void {
    this.#connecting.direct(req, accept, reject);
  }

  exec(command: string, accept: () => ExecStream, _reject: () => void): void {
    this.#connecting.exec(command, accept);
  }

  /** Audits a request this relay does not serve. */
  refused(kind: RefusedKind | 'exec', detail?: string): void {
    this.#ctx.audit.record({
      event: 'request.refused',
      conn: this.id,
      ...(this.#fp ? { fp: this.#fp } : {}),
      request: kind,
      ...(detail ? { detail } : {}),
    });
  }

  // --- teardown -------------------------------------------------------------------------------

  closed(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending.settle();
    this.bridges.abort();
    for (const route of [...this.#routes.values()]) this.#release(route, reason);
    this.#recount();
    const auth = this.#auth.summary();
    if (auth) {
      this.#ctx.audit.record({
        event: 'auth.summary',
        conn: this.id,
        ip: this.#pending.ip,
        refused: auth.refused,
        unaudited: auth.unaudited,
        last_reason: auth.lastReason,
      });
    }
    // A connection that never tried to authenticate (a stalled or probing socket) is audited by
    // the relay's rate-limited refusal audit instead: a flood of them must not be a flood of lines.
    if (this.#auth.tried) {
      this.#ctx.audit.record({
        event: 'conn.closed',
        conn: this.id,
        ip: this.#pending.ip,
        ...(this.#fp ? { fp: this.#fp } : {}),
        reason,
        ms: this.#ctx.now() - this.#opened,
      });
    }
    this.#ctx.forget(this);
  }
}
