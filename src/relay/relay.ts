import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { AuditSink } from '../audit/audit.js';
import { LimitedAudit } from '../audit/limits.js';
import type { PeerSet } from '../cluster/peers.js';
import { ClusterRouter, type ClusterStats } from '../cluster/router.js';
import { DRAIN_REQUEST, LISTEN_BACKLOG } from '../core/constants.js';
import type { PolicySet } from '../core/policy-set.js';
import type { Registry } from '../registry/registry.js';
import type { ForwardTarget } from '../ssh/connection.js';
import type { HostKey } from '../ssh/keys.js';
import { type SocketMeta, SshServer } from '../ssh/server.js';
import { ignoreExpectedErrors } from '../streams/expected-errors.js';
import type { StartupLimits } from './admission.js';
import type { AuthWebhook } from './auth-webhook.js';
import { ClusterSync } from './cluster-sync.js';
import { type PendingAuth, RelayConnection, type RelayContext } from './connection.js';
import { ConnectionCaps } from './connection-caps.js';
import { ExpiryWatch } from './expiry-watch.js';
import { PreAuthGate } from './gate.js';
import { NameTable } from './name-table.js';
import type { RelayObserver } from './observer.js';
import type { PenaltyConfig } from './penalties.js';

export interface RelayConfig {
  readonly relayId: string;
  readonly host: string;
  /** 0 picks a free port (tests); read the real one from `address()`. */
  readonly port: number;
  readonly hostKey: HostKey;
  readonly keepaliveIntervalMs: number;
  readonly keepaliveCountMax: number;
  readonly loginGraceMs: number;
  readonly maxAuthTries: number;
  /**
   * Connections that have not authenticated yet: in total (random early drop from `start` to
   * `full`, see admission.ts) and per source (an IPv4 address or an IPv6 /64).
   */
  readonly maxStartups: Omit<StartupLimits, 'perSource'>;
  readonly maxStartupsPerSource: number;
  /**
   * Authenticated connections holding no registered name, per key and per source address
   * (IPv6 by /64); see connection-caps.ts for what counts.
   */
  readonly maxConnectionsPerKey: number;
  readonly maxConnectionsPerSource: number;
  /** Refusing sources whose pre-auth connections misbehave; undefined turns it off. */
  readonly penalties?: PenaltyConfig;
  /** At most one refusal line per source, and one summary, per this interval. */
  readonly refusalAuditIntervalMs?: number;
  /** Concurrent forwarded channels per connection. */
  readonly maxChannels: number;
  /** How long a draining relay waits for agents to move before closing what is left. */
  readonly drainGraceMs: number;
  readonly registryTtlMs: number;
  /** cluster: `host:port` other relays and the registry record use; default the listen address. */
  readonly advertise?: string;
  /** How often the registry is refreshed; under half the TTL [default: a third of it]. */
  readonly heartbeatIntervalMs?: number;
  /**
   * cluster: devices this relay is willing to hold, published in its registry record for
   * placement; 0 or absent declares no limit. A hint only: the relay never refuses over it.
   */
  readonly capacity?: number;
  /** burrow version, published in the registry's relay record. */
  readonly version?: string;
  readonly ciphers?: readonly string[];
}

export interface RelayDeps {
  readonly policy: () => PolicySet;
  /**
   * Subscribes to policy reloads; returns the unsubscribe. On each, the relay re-judges what live
   * connections hold (revocation.ts), so a revoked key loses its names and connections at once.
   */
  readonly policyChanges?: (listener: () => void) => () => void;
  readonly registry: Registry;
  /**
   * The auth webhook (--auth-webhook): judges keys the policy file does not list; its answers
   * changing re-judge live connections like a policy reload (auth-webhook.ts).
   */
  readonly authHook?: AuthWebhook;
  /** cluster: the relays' host keys (--peers); with it, names other relays hold are reachable. */
  readonly peers?: PeerSet;
  readonly audit: AuditSink;
  readonly log: Logger;
  /** The wall clock (records, expiry times); default Date.now. */
  readonly now?: () => number;
  /** Milliseconds on a clock that only moves forward (penalties, audit budgets); default performance.now. */
  readonly monotonic?: () => number;
  /** For the random early drop; tests pass a seeded one. */
  readonly random?: () => number;
  /** Metrics (observer.ts); nothing is observed without one. */
  readonly observer?: RelayObserver;
}

export interface RelayStats {
  readonly connections: number;
  readonly unauthenticated: number;
  readonly routes: number;
  /** Open client→device bridges. */
  readonly bridges: number;
  readonly draining: boolean;
  /** Connections holding at least one route, and the distinct names of the routes. */
  readonly devices: number;
  readonly names: number;
  /** Bytes read from and written to every accepted socket (open or closed) since start. */
  readonly bytesReceived: number;
  readonly bytesSent: number;
  /** cluster: peer links and failed dials; absent on a lone relay. */
  readonly cluster?: ClusterStats;
}

export interface Relay {
  address(): { host: string; port: number };
  stats(): RelayStats;
  /**
   * Asks agents to move, waits up to the drain grace, then closes. Names still registered here
   * stay reachable meanwhile (the listener stays open until the last one has left); new
   * registrations are refused, so an agent moving away never finds its name unreachable.
   */
  drain(): Promise<void>;
  /** Closes everything now. Idempotent. */
  close(): Promise<void>;
}

interface PendingSocket extends SocketMeta {
  readonly pending: PendingAuth;
}

/**
 * Starts a relay: listens, admits sockets under the unauthenticated-connection caps, and hands
 * each to the SSH layer. Resolves once listening.
 *
 * Shutdown order (drain): refuse new registrations and send drain@burrow to every authenticated
 * connection → close the listener once no name is registered here → wait until client traffic
 * has finished or the grace period ends → close the rest.
 */
export async function startRelay(config: RelayConfig, deps: RelayDeps): Promise<Relay> {
  const now = deps.now ?? Date.now;
  // Penalties and audit budgets measure durations: on a clock that a wall-clock jump cannot move.
  const monotonic = deps.monotonic ?? (() => performance.now());
  const log = deps.log.child({ component: 'relay' });
  // Everything peers can make the relay audit is capped and budgeted (audit/limits.ts).
  const limited = new LimitedAudit(deps.audit, monotonic);
  const observer = deps.observer;
  const audit: AuditSink = observer
    ? {
        record: (event) => {
          observer.audited(event);
          limited.record(event);
        },
      }
    : limited;
  const table = new NameTable<RelayConnection, ForwardTarget>();
  const gate = new PreAuthGate(
    {
      startups: { ...config.maxStartups, perSource: config.maxStartupsPerSource },
      ...(config.penalties ? { penalties: config.penalties } : {}),
      loginGraceMs: config.loginGraceMs,
      refusalAuditIntervalMs: config.refusalAuditIntervalMs ?? 10_000,
    },
    audit,
    monotonic,
    deps.random,
  );
  const connections = new Set<RelayConnection>();
  let draining = false;
  let closed = false;

  // cluster: peer links to relays holding names this one does not (see cluster/router.ts).
  const cluster = deps.peers
    ? new ClusterRouter(
        {
          relayId: config.relayId,
          peers: deps.peers,
          hostKey: config.hostKey.privateKey,
          registryTtlMs: config.registryTtlMs,
          keepaliveIntervalMs: config.keepaliveIntervalMs,
          keepaliveCountMax: config.keepaliveCountMax,
          dialTimeoutMs: 2000,
          downForMs: 1000,
        },
        {
          registry: deps.registry,
          log,
          now,
          ...(config.ciphers ? { ciphers: config.ciphers } : {}),
        },
      )
    : undefined;

  let sync: ClusterSync<RelayConnection> | undefined;
  const hook = deps.authHook;
  const policy = hook ? () => hook.over(deps.policy()) : deps.policy;
  const ctx: RelayContext = {
    relayId: config.relayId,
    table,
    policy,
    registry: deps.registry,
    audit,
    log,
    now,
    maxAuthTries: config.maxAuthTries,
    caps: new ConnectionCaps(config.maxConnectionsPerKey, config.maxConnectionsPerSource),
    maxChannels: config.maxChannels,
    registryTtlMs: config.registryTtlMs,
    claimFailed: (err) => sync?.claimFailed(err), // cluster hook
    isDraining: () => draining,
    forget: (rc) => connections.delete(rc),
    authenticated: (rc) => expiry.watch([rc]),
    ...(cluster ? { cluster } : {}),
    ...(observer ? { observer } : {}),
    ...(hook ? { hook } : {}),
  };

  // Revocation: key expiry, policy reloads and webhook answers re-judge live connections.
  const expiry = new ExpiryWatch(policy, now, () => connections);
  const unsubscribe = deps.policyChanges?.(expiry.all);
  const unhook = hook?.onChange(expiry.all);
  hook?.attach(() => {
    const keys = new Set<string>();
    for (const c of connections) {
      const h = c.holding;
      if (h) keys.add(h.keyBlob.toString('base64'));
    }
    return keys;
  });

  const ssh = new SshServer<PendingSocket>(
    {
      hostKey: config.hostKey.privateKey,
      keepaliveIntervalMs: config.keepaliveIntervalMs,
      keepaliveCountMax: config.keepaliveCountMax,
      ...(config.ciphers ? { ciphers: config.ciphers } : {}),
    },
    (conn, meta) => {
      const rc = new RelayConnection(conn, meta.pending, ctx);
      connections.add(rc);
      return rc;
    },
  );

  /** Every accepted socket, authenticated or not, so close() can end them all. */
  const sockets = new Set<Socket>();
  /** Bytes of the sockets that have closed (the open ones are read from the sockets). */
  const closedBytes = { received: 0, sent: 0 };

  const onSocket = (socket: Socket) => {
    ignoreExpectedErrors(socket, 'a client socket', log); // ends through 'close'
    if (closed) {
      socket.destroy();
      return;
    }
    const pending = gate.admit(socket);
    if (!pending) return;
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      closedBytes.received += socket.bytesRead;
      closedBytes.sent += socket.bytesWritten;
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 15_000);
    ssh.accept(socket, { remoteAddress: pending.ip, remotePort: pending.port, pending });
  };

  const server: Server = createServer({ noDelay: true, keepAlive: true }, onSocket);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, LISTEN_BACKLOG, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err }, 'listener error'));
  const bound = server.address();
  const port = typeof bound === 'object' && bound ? bound.port : config.port;

  // Cluster hook: heartbeat, takeovers by other relays, registry outages (cluster-sync.ts).
  const startedAt = now();
  sync = new ClusterSync({
    relayId: config.relayId,
    table,
    registry: deps.registry,
    audit,
    log,
    now,
    ttlMs: config.registryTtlMs,
    intervalMs: config.heartbeatIntervalMs ?? Math.max(1000, Math.floor(config.registryTtlMs / 3)),
    record: () => ({
      relayId: config.relayId,
      address: config.advertise ?? `${config.host}:${port}`,
      names: table.size,
      connections: connections.size,
      capacity: config.capacity ?? 0,
      draining,
      version: config.version ?? '',
      startedAt,
    }),
  });
  await sync.start();

  /** Resolves once the listener has closed, which is after every accepted socket has. */
  let listenerClosed: Promise<void> | undefined;
  const stopListening = () => {
    listenerClosed ??= new Promise<void>((resolve) => server.close(() => resolve()));
    return listenerClosed;
  };

  const relay: Relay = {
    address: () => ({ host: config.host, port }),
    stats: () => {
      const bytes = { ...closedBytes };
      for (const s of sockets) {
        bytes.received += s.bytesRead;
        bytes.sent += s.bytesWritten;
      }
      const held = [...table.entries()];
      return {
        connections: connections.size,
        unauthenticated: gate.pending,
        routes: table.size,
        bridges: countBridges(connections),
        draining,
        devices: new Set(held.map((r) => r.conn)).size,
        names: new Set(held.map((r) => r.route.name)).size,
        bytesReceived: bytes.received,
        bytesSent: bytes.sent,
        ...(cluster ? { cluster: cluster.stats() } : {}),
      };
    },
    async drain() {
      if (draining || closed) return;
      draining = true;
      void sync?.beat(); // cluster hook: the registry says draining at once
      audit.record({
        event: 'relay.draining',
        relay: config.relayId,
        connections: connections.size,
      });
      for (const c of connections) if (c.ssh.authenticated) c.ssh.notify(DRAIN_REQUEST);
      const deadline = now() + config.drainGraceMs;
      while (connections.size > 0 && now() < deadline) {
        if (table.size === 0) {
          // Every name has left: nothing more to route, so stop accepting. server.close() only
          // calls back once every connection has ended, so it is not awaited here.
          void stopListening();
          if (!hasClientTraffic(connections)) break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      await relay.close();
    },
    async close() {
      if (closed) return;
      closed = true;
      sync?.close();
      cluster?.close();
      expiry.close();
      unsubscribe?.();
      unhook?.();
      // Sockets the relay closes from here on are not their sources' fault: no penalty, no line.
      gate.close();
      const closing = stopListening();
      for (const c of [...connections]) c.ssh.destroy('relay-closed');
      for (const socket of sockets) socket.destroy();
      await closing;
      audit.record({ event: 'relay.stopped', relay: config.relayId });
    },
  };
  return relay;
}

/** True while any connection still carries forwarded channels (clients mid-session). */
function hasClientTraffic(connections: Set<RelayConnection>): boolean {
  for (const c of connections) if (c.activeChannels > 0) return true;
  return false;
}

/** Each bridge is counted once at its client end and once at its device end. */
function countBridges(connections: Set<RelayConnection>): number {
  let n = 0;
  for (const c of connections) n += c.activeChannels;
  return n / 2;
}
