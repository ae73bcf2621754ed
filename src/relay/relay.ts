import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { AuditSink } from '../audit/audit.js';
import { DRAIN_REQUEST } from '../core/constants.js';
import type { PolicySet } from '../core/policy-set.js';
import type { Registry } from '../registry/registry.js';
import type { ForwardTarget } from '../ssh/connection.js';
import type { HostKey } from '../ssh/keys.js';
import { type SocketMeta, SshServer } from '../ssh/server.js';
import { Admission, normalizeAddress } from './admission.js';
import { type PendingAuth, RelayConnection, type RelayContext } from './connection.js';
import { NameTable } from './name-table.js';

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
  /** Connections that have not authenticated yet, in total and per source address. */
  readonly maxStartups: number;
  readonly maxStartupsPerSource: number;
  /** Concurrent forwarded channels per connection. */
  readonly maxChannels: number;
  /** How long a draining relay waits for agents to move before closing what is left. */
  readonly drainGraceMs: number;
  readonly registryTtlMs: number;
  /** burrow version, published in the registry's relay record. */
  readonly version?: string;
  readonly ciphers?: readonly string[];
}

export interface RelayDeps {
  readonly policy: () => PolicySet;
  readonly registry: Registry;
  readonly audit: AuditSink;
  readonly log: Logger;
  readonly now?: () => number;
}

export interface RelayStats {
  readonly connections: number;
  readonly unauthenticated: number;
  readonly routes: number;
  /** Open client→device bridges. */
  readonly bridges: number;
  readonly draining: boolean;
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
  const log = deps.log.child({ component: 'relay' });
  const table = new NameTable<RelayConnection, ForwardTarget>();
  const admission = new Admission(config.maxStartups, config.maxStartupsPerSource);
  const connections = new Set<RelayConnection>();
  let draining = false;
  let closed = false;

  const ctx: RelayContext = {
    relayId: config.relayId,
    table,
    policy: deps.policy,
    registry: deps.registry,
    audit: deps.audit,
    log,
    now,
    maxAuthTries: config.maxAuthTries,
    maxChannels: config.maxChannels,
    registryTtlMs: config.registryTtlMs,
    isDraining: () => draining,
    forget: (rc) => connections.delete(rc),
  };

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

  const onSocket = (socket: Socket) => {
    const ip = normalizeAddress(socket.remoteAddress);
    socket.on('error', () => {});
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    if (closed) {
      socket.destroy();
      return;
    }
    const admitted = admission.admit(ip);
    if (!admitted.ok) {
      deps.audit.record({ event: 'conn.refused', ip, reason: admitted.reason });
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 15_000);
    let settled = false;
    const grace = setTimeout(() => {
      deps.audit.record({ event: 'conn.refused', ip, reason: 'login-grace-time' });
      socket.destroy();
    }, config.loginGraceMs);
    const pending: PendingAuth = {
      ip,
      port: socket.remotePort ?? 0,
      settle: () => {
        if (settled) return;
        settled = true;
        clearTimeout(grace);
        admission.settle(ip);
      },
    };
    socket.once('close', pending.settle);
    ssh.accept(socket, { remoteAddress: ip, remotePort: socket.remotePort ?? 0, pending });
  };

  const server: Server = createServer({ noDelay: true, keepAlive: true }, onSocket);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err }, 'listener error'));
  const bound = server.address();
  const port = typeof bound === 'object' && bound ? bound.port : config.port;

  const startedAt = now();
  const heartbeat = setInterval(
    () => {
      const held = [...table.entries()].map((r) => ({ ...r.route, owner: r.owner }));
      deps.registry
        .heartbeat(
          {
            relayId: config.relayId,
            address: `${config.host}:${port}`,
            names: table.size,
            connections: connections.size,
            capacity: 0,
            draining,
            version: config.version ?? '',
            startedAt,
          },
          held,
          config.registryTtlMs,
        )
        .then((conflicts) => {
          // Dropping these stale local registrations is the relay's job; for now they are told.
          for (const c of conflicts)
            log.warn({ name: c.name, heldBy: c.heldBy }, 'name held elsewhere');
        })
        .catch((err: unknown) => log.warn({ err }, 'registry heartbeat failed'));
    },
    Math.max(1000, Math.floor(config.registryTtlMs / 3)),
  );
  heartbeat.unref();

  /** Resolves once the listener has closed, which is after every accepted socket has. */
  let listenerClosed: Promise<void> | undefined;
  const stopListening = () => {
    listenerClosed ??= new Promise<void>((resolve) => server.close(() => resolve()));
    return listenerClosed;
  };

  const relay: Relay = {
    address: () => ({ host: config.host, port }),
    stats: () => ({
      connections: connections.size,
      unauthenticated: admission.pending,
      routes: table.size,
      bridges: countBridges(connections),
      draining,
    }),
    async drain() {
      if (draining || closed) return;
      draining = true;
      deps.audit.record({
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
      clearInterval(heartbeat);
      const closing = stopListening();
      for (const c of [...connections]) c.ssh.destroy('relay-closed');
      for (const socket of sockets) socket.destroy();
      await closing;
      deps.audit.record({ event: 'relay.stopped', relay: config.relayId });
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
