import type { Duplex } from 'node:stream';
import type { RemoteOpen } from '../cluster/router.js';
import {
  checkName,
  isValidPort,
  parseNcExec,
  type Route,
  routeFromSocketPath,
  routeKey,
} from '../core/names.js';
import type { PolicyEntry } from '../core/policy/index.js';
import type { ConnectRefusal } from '../core/refusals.js';
import type { DirectRequest, ExecStream, RefusedKind, RejectOpen } from '../ssh/connection.js';
import { splice } from '../ssh/splice.js';
import type { BridgeSet } from './bridges.js';
import type { ChannelCount } from './channel-count.js';
import type { RelayConnection, RelayContext } from './connection.js';
import type { ClientPath } from './observer.js';
import { refusalFor, refusalOfText } from './refusals.js';
import { closeChannel, failExec, USAGE_EXEC } from './requests.js';

/**
 * The client side of one relay connection: reaching a registered name by `direct-tcpip`
 * (`ssh -W`/`-J`/`-L`) or by `nc -U` (exec), through a bridge to the device's connection, or
 * (cluster) over a peer link to the relay that holds the name: one hop, never from a peer link.
 *
 * Contract: policy is checked before the name table, so a key that may not reach a name learns
 * nothing about it; every refusal is audited once as `connect.refused`, except that refusals for
 * an unavailable registry are audited once per burst (cluster/router.ts); every one is counted; each bridge holds one
 * channel on both connections' ChannelCount from the moment the device is asked until the bridge
 * ends (or at once, if the client's connection closed meanwhile), and sits in both BridgeSets
 * while it is open.
 */

/** What the connecting path needs of the connection it serves. */
export interface ConnectingParty {
  readonly id: string;
  readonly ip: string;
  readonly port: number;
  readonly channels: ChannelCount;
  readonly bridges: BridgeSet;
  /** The authenticated key's fingerprint, once there is one. */
  fp(): string | undefined;
  isClosed(): boolean;
  /**
   * cluster: set when this connection is a peer relay's link. It may only open direct-tcpip
   * channels to names in the local table; `relay` is the id it announced.
   */
  peer(): { readonly relay: string } | undefined;
  /** The policy line that currently authorises this connection's key, if any. */
  entry(): PolicyEntry | undefined;
  /** Audits a request the relay does not serve (`request.refused`). */
  refused(kind: RefusedKind | 'exec', detail?: string): void;
}

/**
 * A channel #connect opened: to a device connected here (`conn`), or over a peer link to the
 * relay `relay` that holds the name (cluster).
 */
interface Device {
  readonly channel: Duplex;
  readonly conn?: RelayConnection;
  readonly relay?: string;
}

type Refused = { refused: ConnectRefusal; relay?: string };

export class Connecting {
  readonly #me: ConnectingParty;
  readonly #ctx: RelayContext;

  constructor(me: ConnectingParty, ctx: RelayContext) {
    this.#me = me;
    this.#ctx = ctx;
  }

  direct(req: DirectRequest, accept: () => Duplex, reject: RejectOpen): void {
    const check = checkName(req.host);
    const to = `${req.host}:${req.port}`;
    if (!check.ok || !isValidPort(req.port)) {
      const reason = check.ok ? 'bad-port' : 'not-a-name';
      this.#refused(to, 'direct-tcpip', reason);
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

  exec(command: string, accept: () => ExecStream): void {
    const path = parseNcExec(command);
    const route = path === undefined ? undefined : routeFromSocketPath(path);
    if (!route || this.#me.peer()) {
      this.#me.refused('exec', command.trim().split(/\s+/)[0]?.slice(0, 64));
      failExec(accept(), USAGE_EXEC);
      return;
    }
    const to = routeKey(route);
    const origin = { originAddr: this.#me.ip, originPort: this.#me.port };
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
  ): Promise<Device | Refused> {
    const ctx = this.#ctx;
    const to = routeKey(route);
    const peer = this.#me.peer();
    if (!peer) {
      const entry = this.#me.entry();
      if (!entry) return this.#refused(to, via, 'key-not-authorized');
      if (!ctx.policy().mayOpen(entry, route.name, route.port)) {
        return this.#refused(to, via, 'not-permitted');
      }
    }
    const reg = ctx.table.lookup(route);
    // cluster: a name held by another relay is reached over a peer link (never from a peer: one hop).
    if (!reg && ctx.cluster && !peer) {
      const remote = await ctx.cluster.open(route, origin);
      if (remote) return this.#remoteOpened(remote, to, via);
    }
    if (!reg) return this.#refused(to, via, ctx.isDraining() ? 'relay-draining' : 'unknown-name');
    const mine = this.#me.channels;
    const theirs = reg.conn.channels;
    if (mine.open >= ctx.maxChannels || theirs.open >= ctx.maxChannels) {
      return this.#refused(to, via, 'too-many-channels');
    }
    mine.take();
    theirs.take();
    try {
      const channel = await reg.conn.ssh.openForwarded(
        reg.target,
        origin.originAddr,
        origin.originPort,
      );
      return { channel, conn: reg.conn };
    } catch {
      mine.give();
      theirs.give();
      return this.#refused(to, via, 'device-refused');
    }
  }

  /** cluster: the answer of a peer relay holding the name, as #connect's result. */
  #remoteOpened(remote: RemoteOpen, to: string, via: string): Device | Refused {
    if ('firstOfBurst' in remote) {
      return this.#refused(to, via, remote.refused, undefined, remote.firstOfBurst);
    }
    if ('refused' in remote) return this.#refused(to, via, remote.refused, remote.relay);
    if ('holderText' in remote) {
      const reason = refusalOfText(remote.holderText, to) ?? 'device-refused';
      return this.#refused(to, via, reason, remote.relay);
    }
    if (this.#me.channels.open >= this.#ctx.maxChannels) {
      closeChannel(remote.channel);
      return this.#refused(to, via, 'too-many-channels', remote.relay);
    }
    this.#me.channels.take();
    return { channel: remote.channel, relay: remote.relay };
  }

  /**
   * Joins the client's side (accepted only now) to a device channel opened by #connect, and owns
   * the channel counts #connect took: they are returned when the bridge ends, or at once if this
   * connection closed while the device channel was being opened.
   */
  #bridge(acceptClient: () => Duplex, device: Device, route: Route, to: string, via: string): void {
    const me = this.#me;
    const deviceConn = device.conn;
    // cluster: the other relay of a peer-link bridge (the holder here, or the entry on a holder).
    const viaRelay = device.relay ?? me.peer()?.relay;
    if (me.isClosed()) {
      me.channels.give();
      deviceConn?.channels.give();
      closeChannel(device.channel);
      return;
    }
    const abort = splice(
      acceptClient(),
      device.channel,
      (s) => {
        me.channels.give();
        deviceConn?.channels.give();
        me.bridges.delete(abort);
        deviceConn?.bridges.delete(abort);
        this.#ctx.audit.record({
          event: 'connect.closed',
          conn: me.id,
          fp: me.fp() ?? '?',
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
    me.bridges.add(abort, route, true);
    deviceConn?.bridges.add(abort, route, false);
    this.#ctx.observer?.clientConnection(pathOf(device.relay, me.peer()), 'bridged');
  }

  /**
   * Audits and counts a refusal. A repeat within a burst (`audit` false) is only shown to the
   * observer, as an event the audit budget dropped would be, so the refusal metric counts it.
   */
  #refused(to: string, via: string, reason: ConnectRefusal, relay?: string, audit = true): Refused {
    const viaRelay = relay ?? this.#me.peer()?.relay;
    const event = {
      event: 'connect.refused',
      conn: this.#me.id,
      fp: this.#me.fp() ?? '?',
      to,
      via,
      ...(viaRelay ? { via_relay: viaRelay } : {}),
      reason,
    } as const;
    if (audit) this.#ctx.audit.record(event);
    else this.#ctx.observer?.audited(event);
    this.#ctx.observer?.clientConnection(pathOf(relay, this.#me.peer()), reason);
    return relay ? { refused: reason, relay } : { refused: reason };
  }
}

/** The path of a client connection: over a peer link to `holder`, from a peer's link, or local. */
function pathOf(holder: string | undefined, fromPeer: { relay: string } | undefined): ClientPath {
  if (holder !== undefined) return 'forwarded-out';
  return fromPeer ? 'forwarded-in' : 'local';
}
