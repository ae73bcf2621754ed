import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { AuditSink } from '../audit/audit.js';
import type { ClusterRouter, RemoteOpen } from '../cluster/router.js';
import { FORWARD_REFUSED_PREFIX, PEER_USER } from '../core/constants.js';
import {
  checkName,
  isValidPort,
  parseNcExec,
  type Route,
  routeFromSocketPath,
  routeKey,
} from '../core/names.js';
import type { PolicyEntry } from '../core/policy/index.js';
import type { PolicySet } from '../core/policy-set.js';
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
import { fingerprintOf } from '../ssh/keys.js';
import { splice } from '../ssh/splice.js';
import { AuthFailures } from './auth-failures.js';
import { BridgeSet } from './bridges.js';
import { CAP_REFUSAL_TEXT, type ConnectionCaps, sourceOf } from './connection-caps.js';
import type { NameTable } from './name-table.js';
import { type ConnectRefusal, refusalFor, refusalOfText } from './refusals.js';
import { closeChannel, describeTarget, failExec, routeOf, USAGE_EXEC } from './requests.js';
import { type Holding, REVOKED_TEXT, type RevokeReason } from './revocation.js';

/** Shared state and settings every connection of one relay sees. */
export interface RelayContext {
  readonly relayId: string;
  readonly table: NameTable<RelayConnection, ForwardTarget>;
  readonly policy: () => PolicySet;
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

/**
 * A channel #connect opened: to a device connected here (`conn`), or over a peer link to the
 * relay `relay` that holds the name (cluster).
 */
interface DeviceChannel {
  readonly channel: Duplex;
  readonly conn?: RelayConnection;
  readonly relay?: string;
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
  #keyBlob: Buffer | undefined;
  #fp: string | undefined;
  readonly #authFailures: AuthFailures;
  /** True while this connection is counted in `ctx.caps` (authenticated, holding no name). */
  #counted = false;
  #channels = 0;
  #closed = false;
  /** Set by the first authentication attempt; see closed(). */
  #triedAuth = false;
  /** Every bridge this connection is an end of (as client or as device). */
  readonly #bridges = new BridgeSet();
  /**
   * cluster: set when the key is a peer relay's host key (--peers). Such a connection may only
   * open direct-tcpip channels to names in the local table; `relay` is the id it announced.
   */
  #peer: { relay: string } | undefined;

  constructor(ssh: SshConnection, pending: PendingAuth, ctx: RelayContext) {
    this.ssh = ssh;
    this.#pending = pending;
    this.#ctx = ctx;
    this.#opened = ctx.now();
    this.#authFailures = new AuthFailures(ctx.maxAuthTries);
    this.#log = ctx.log.child({ conn: this.id, ip: pending.ip });
  }

  /** Forwarded channels open on this connection, as client or as device. */
  get activeChannels(): number {
    return this.#channels;
  }

  // --- authentication -------------------------------------------------------------------------

  authenticate(a: AuthAttempt): boolean {
    if (this.#closed) return false;
    this.#triedAuth = true;
    this.#authFailures.attempt();
    // The user name is the peer's to choose and means nothing to the relay; keep it short.
    const user = a.username.slice(0, 64);
    const base = { conn: this.id, ip: this.#pending.ip, user, method: a.method.slice(0, 32) };
    if (a.method !== 'publickey' || !a.keyBlob) {
      this.#authFailed({ ...base, reason: 'method-not-allowed' });
      return false;
    }
    const fp = fingerprintOf(a.keyBlob);
    // cluster: a peer relay's host key is checked before the policy file.
    const peer = this.#ctx.cluster?.peerOf(a.keyBlob);
    if (peer) {
      if (!a.signed) return true;
      const announced = user.startsWith(`${PEER_USER} `) ? user.slice(PEER_USER.length + 1) : '?';
      this.#peer = { relay: announced };
      this.#keyBlob = a.keyBlob;
      this.#fp = fp;
      this.#ctx.audit.record({ ...base, event: 'auth.accepted', fp, key: `peers ${peer.source}` });
      return true;
    }
    const verdict = this.#ctx.policy().authorize(a.keyBlob, this.#pending.ip, this.#ctx.now());
    if (!verdict.ok) {
      this.#authFailed({ ...base, fp, reason: verdict.reason });
      return false;
    }
    if (!a.signed) return true;
    const capped = this.#ctx.caps.admit(fp, sourceOf(this.#pending.ip));
    if (!capped.ok) {
      this.ssh.banner(`${CAP_REFUSAL_TEXT[capped.reason]}\r\n`);
      this.#authFailed({ ...base, fp, reason: capped.reason });
      return false;
    }
    this.#counted = true;
    this.#keyBlob = a.keyBlob;
    this.#fp = fp;
    this.#ctx.audit.record({
      event: 'auth.accepted',
      conn: this.id,
      ip: this.#pending.ip,
      user,
      fp,
      key: `${verdict.entry.file}:${verdict.entry.line}`,
    });
    return true;
  }

  #authFailed(e: {
    conn: string;
    ip: string;
    user: string;
    method: string;
    fp?: string;
    reason: string;
  }) {
    const v = this.#authFailures.refused(e.method, e.reason);
    if (v.audit) this.#ctx.audit.record({ event: 'auth.refused', ...e });
    this.#pending.authFailed();
    if (v.disconnect) this.ssh.destroy('max-auth-tries');
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
    // cluster: a peer link is judged by the peers file, not the policy file.
    if (!this.#keyBlob || this.#closed || this.#peer) return undefined;
    const names = [...this.#routes.values()];
    return {
      conn: this.id,
      keyBlob: this.#keyBlob,
      ip: this.#pending.ip,
      names,
      reaching: this.#bridges.reaching(),
    };
  }

  /** The key no longer logs in: everything it holds is released as the connection closes. */
  revoke(reason: RevokeReason): void {
    this.ssh.debug(REVOKED_TEXT[reason]);
    this.ssh.destroy(reason);
  }

  /** The key may no longer register `route`: release it and cut the sessions it serves. */
  releaseName(route: Route): void {
    this.#bridges.abort(route, false);
    this.#release(route, 'not-permitted');
    this.ssh.debug(`${FORWARD_REFUSED_PREFIX}not-permitted ${routeKey(route)} (released)`);
  }

  /** The key may no longer reach `route`: close this connection's sessions to it. */
  cutBridges(route: Route): void {
    this.#bridges.abort(route, true);
  }

  /** The policy line that currently authorises this connection's key, if any. */
  #entry(): PolicyEntry | undefined {
    if (!this.#keyBlob) return undefined;
    const v = this.#ctx.policy().authorize(this.#keyBlob, this.#pending.ip, this.#ctx.now());
    return v.ok ? v.entry : undefined;
  }

  // --- registration ---------------------------------------------------------------------------

  async forward(target: ForwardTarget): Promise<boolean> {
    const ctx = this.#ctx;
    const fp = this.#fp ?? '?';
    const request = describeTarget(target);
    const refuse = (reason: string, heldBy?: string) => {
      this.ssh.debug(`${FORWARD_REFUSED_PREFIX}${reason} ${request}`);
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
    if (this.#peer) return refuse('not-permitted'); // cluster: a peer link registers nothing
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

  // --- connecting to names --------------------------------------------------------------------

  direct(req: DirectRequest, accept: () => Duplex, reject: RejectOpen): void {
    const check = checkName(req.host);
    const to = `${req.host}:${req.port}`;
    if (!check.ok || !isValidPort(req.port)) {
      const reason = check.ok ? 'bad-port' : 'not-a-name';
      this.#connectRefused(to, 'direct-tcpip', reason);
      reject(refusalFor(reason, check.ok ? to : req.host));
      return;
    }
    const route = { name: check.name, port: req.port };
    this.#connect(route, 'direct-tcpip', req).then(
      (device) => {
        if ('refused' in device) {
          return reject(refusalFor(device.refused, routeKey(route), device.relay));
        }
        this.#bridge(accept, device, route, to, 'direct-tcpip');
      },
      () => reject(),
    );
  }

  exec(command: string, accept: () => ExecStream, _reject: () => void): void {
    const path = parseNcExec(command);
    const route = path === undefined ? undefined : routeFromSocketPath(path);
    if (!route || this.#peer) {
      this.refused('exec', command.trim().split(/\s+/)[0]?.slice(0, 64));
      failExec(accept(), USAGE_EXEC);
      return;
    }
    const to = routeKey(route);
    const origin = { originAddr: this.#pending.ip, originPort: this.#pending.port };
    // Accept before connecting: OpenSSH sends stdin right behind the exec request, and ssh2
    // drops data for a session whose request is still unanswered. The accepted stream buffers
    // it (bounded by the channel window) until the device side is ready.
    const stream = accept();
    stream.pause();
    this.#connect(route, 'nc', origin).then(
      (device) => {
        if ('refused' in device) {
          return failExec(stream, `${refusalFor(device.refused, to, device.relay).text}\r\n`);
        }
        // Registered before splice's own listener, so the exit status goes out before the close.
        device.channel.once('close', () => stream.exit(0));
        this.#bridge(() => stream, device, route, to, 'nc');
      },
      () => failExec(stream, `${refusalFor('device-refused', to).text}\r\n`),
    );
  }

  /**
   * Checks policy and limits, then opens a channel to the device serving `route`. Policy comes
   * before the name table, so a key that may not reach a name learns nothing about it.
   */
  async #connect(
    route: Route,
    via: string,
    origin: { originAddr: string; originPort: number },
  ): Promise<DeviceChannel | { refused: ConnectRefusal; relay?: string }> {
    const to = routeKey(route);
    if (!this.#peer) {
      const entry = this.#entry();
      if (!entry) return this.#connectRefused(to, via, 'key-not-authorized');
      if (!this.#ctx.policy().mayOpen(entry, route.name, route.port)) {
        return this.#connectRefused(to, via, 'not-permitted');
      }
    }
    const reg = this.#ctx.table.lookup(route);
    // cluster: a name held by another relay is reached over a peer link (never from a peer: one hop).
    if (!reg && this.#ctx.cluster && !this.#peer) {
      const remote = await this.#ctx.cluster.open(route, origin);
      if (remote) return this.#remoteOpened(remote, to, via);
    }
    if (!reg) {
      return this.#connectRefused(
        to,
        via,
        this.#ctx.isDraining() ? 'relay-draining' : 'unknown-name',
      );
    }
    if (this.#channels >= this.#ctx.maxChannels || reg.conn.#channels >= this.#ctx.maxChannels) {
      return this.#connectRefused(to, via, 'too-many-channels');
    }
    this.#channels += 1;
    reg.conn.#channels += 1;
    try {
      const channel = await reg.conn.ssh.openForwarded(
        reg.target,
        origin.originAddr,
        origin.originPort,
      );
      return { channel, conn: reg.conn };
    } catch {
      this.#channels -= 1;
      reg.conn.#channels -= 1;
      return this.#connectRefused(to, via, 'device-refused');
    }
  }

  /** cluster: the answer of a peer relay holding the name, as #connect's result. */
  #remoteOpened(
    remote: RemoteOpen,
    to: string,
    via: string,
  ): DeviceChannel | { refused: ConnectRefusal; relay?: string } {
    if ('refused' in remote) return this.#connectRefused(to, via, remote.refused, remote.relay);
    if ('holderText' in remote) {
      const reason = refusalOfText(remote.holderText, to) ?? 'device-refused';
      return this.#connectRefused(to, via, reason, remote.relay);
    }
    if (this.#channels >= this.#ctx.maxChannels) {
      closeChannel(remote.channel);
      return this.#connectRefused(to, via, 'too-many-channels', remote.relay);
    }
    this.#channels += 1;
    return { channel: remote.channel, relay: remote.relay };
  }

  /**
   * Joins the client's side (accepted only now) to a device channel opened by #connect, and owns
   * the channel counts #connect took: they are returned when the bridge ends, or at once if this
   * connection closed while the device channel was being opened.
   */
  #bridge(
    acceptClient: () => Duplex,
    opened: DeviceChannel,
    route: Route,
    to: string,
    via: string,
  ): void {
    const { channel: device, conn: deviceConn } = opened;
    // cluster: the other relay of a peer-link bridge (the holder here, or the entry on a holder).
    const viaRelay = opened.relay ?? this.#peer?.relay;
    if (this.#closed) {
      this.#channels -= 1;
      if (deviceConn) deviceConn.#channels -= 1;
      closeChannel(device);
      return;
    }
    const abort = splice(
      acceptClient(),
      device,
      (s) => {
        this.#channels -= 1;
        if (deviceConn) deviceConn.#channels -= 1;
        this.#bridges.delete(abort);
        if (deviceConn) deviceConn.#bridges.delete(abort);
        this.#ctx.audit.record({
          event: 'connect.closed',
          conn: this.id,
          fp: this.#fp ?? '?',
          to,
          via,
          device_conn: deviceConn?.id ?? '-',
          ...(viaRelay ? { via_relay: viaRelay } : {}),
          bytes_to_device: s.aToB,
          bytes_from_device: s.bToA,
          ms: s.durationMs,
        });
      },
      this.#ctx.now,
    );
    this.#bridges.add(abort, route, true);
    if (deviceConn) deviceConn.#bridges.add(abort, route, false);
  }

  #connectRefused(
    to: string,
    via: string,
    reason: ConnectRefusal,
    relay?: string,
  ): { refused: ConnectRefusal; relay?: string } {
    const viaRelay = relay ?? this.#peer?.relay;
    this.#ctx.audit.record({
      event: 'connect.refused',
      conn: this.id,
      fp: this.#fp ?? '?',
      to,
      via,
      ...(viaRelay ? { via_relay: viaRelay } : {}),
      reason,
    });
    return relay ? { refused: reason, relay } : { refused: reason };
  }

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
    this.#bridges.abort();
    for (const route of [...this.#routes.values()]) this.#release(route, reason);
    this.#recount();
    const auth = this.#authFailures.summary();
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
    if (this.#triedAuth) {
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
