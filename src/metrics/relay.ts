import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { AuditEvent } from '../audit/audit.js';
import {
  CONNECT_REFUSALS,
  isRegisterRefusal,
  REGISTER_REFUSALS,
  REVOKE_REASONS,
} from '../core/refusals.js';
import type { Registry as NameRegistry } from '../registry/registry.js';
import type { ClientPath, RelayObserver } from '../relay/observer.js';
import { CLIENT_PATHS } from '../relay/observer.js';
import type { RelayStats } from '../relay/relay.js';
import { TIMED_OPS, timeRegistry } from './registry-timing.js';

/**
 * A relay's metrics, registered on `register`. Label values come from fixed vocabularies only
 * (refusal reasons, paths, registry operations), never a name, key or address, so the number of
 * series does not grow with the fleet.
 *
 * What moves when:
 * - events (registrations, refusals, client connections) through `observer`, as they happen;
 *   refusals before authentication are counted when the relay writes its per-interval
 *   `conn.refused.summary` (every 10 s by default);
 * - registry latency and errors through the registry `timeRegistry` returns;
 * - everything else is read from the relay's `stats()` at scrape time: nothing on the data path.
 */
export interface RelayMetrics {
  readonly observer: RelayObserver;
  /** `registry`, timed into the registry metrics; the relay must be given this one. */
  timeRegistry(registry: NameRegistry): NameRegistry;
  /** The relay whose `stats()` every scrape reads (set once it has started). */
  watch(relay: { stats(): RelayStats }): void;
}

/** Refusals before authentication, by the words of the relay's gate; anything else is `other`. */
const CONNECTION_REFUSALS = [
  'max-startups',
  'max-per-source',
  'penalised',
  'login-grace-time',
  'closed-before-auth',
  'evicted',
] as const;

const REFUSAL_KINDS: Record<string, readonly string[]> = {
  register: REGISTER_REFUSALS,
  connect: CONNECT_REFUSALS,
  revoke: REVOKE_REASONS,
  connection: CONNECTION_REFUSALS,
};

export function createRelayMetrics(register: Registry, now: () => number = Date.now): RelayMetrics {
  const registers = [register];
  let relay: { stats(): RelayStats } | undefined;
  let lastHeartbeat: number | undefined;
  // One stats() per scrape, shared by every metric read from it: a scrape collects them all in
  // one turn of the event loop, and the snapshot is dropped before the next.
  let snapshot: RelayStats | undefined;
  const current = (): RelayStats | undefined => {
    if (!snapshot && relay) {
      snapshot = relay.stats();
      setImmediate(() => {
        snapshot = undefined;
      });
    }
    return snapshot;
  };
  const stat = <T>(read: (s: RelayStats) => T): T | undefined => {
    const s = current();
    return s === undefined ? undefined : read(s);
  };

  const gauge = (name: string, help: string, read: (s: RelayStats) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const v = stat(read);
        if (v !== undefined) this.set(v);
      },
    });
  gauge(
    'burrow_relay_devices',
    'Connections holding at least one registered name.',
    (s) => s.devices,
  );
  gauge('burrow_relay_names', 'Distinct names registered on this relay.', (s) => s.names);
  gauge('burrow_relay_routes', 'Registered name:port routes.', (s) => s.routes);
  gauge('burrow_relay_draining', '1 while the relay drains, else 0.', (s) => (s.draining ? 1 : 0));
  gauge('burrow_relay_bridges', 'Open client-to-device bridges.', (s) => s.bridges);
  new Gauge({
    name: 'burrow_relay_connections',
    help: 'Open SSH connections, by whether they have authenticated.',
    labelNames: ['state'],
    registers,
    collect() {
      const s = current();
      if (!s) return;
      this.set({ state: 'unauthenticated' }, s.unauthenticated);
      this.set({ state: 'authenticated' }, Math.max(0, s.connections - s.unauthenticated));
    },
  });
  new Gauge({
    name: 'burrow_relay_peer_links',
    help: 'Relay-to-relay links open or being dialled (cluster).',
    registers,
    collect() {
      this.set(stat((s) => s.cluster?.links ?? 0) ?? 0);
    },
  });
  const cumulative = <L extends string>(
    name: string,
    help: string,
    label: L,
    read: (s: RelayStats) => Record<string, number>,
  ) =>
    new Counter({
      name,
      help,
      labelNames: [label],
      registers,
      collect() {
        const s = current();
        if (!s) return;
        this.reset();
        for (const [k, v] of Object.entries(read(s))) {
          this.inc({ [label]: k } as Record<L, string>, v);
        }
      },
    });
  cumulative(
    'burrow_relay_bytes_total',
    "Bytes on the relay's SSH sockets, by direction.",
    'direction',
    (s) => ({
      received: s.bytesReceived,
      sent: s.bytesSent,
    }),
  );
  cumulative(
    'burrow_relay_peer_dial_errors_total',
    'Failed dials to peer relays, by failure (cluster).',
    'failure',
    (s) => s.cluster?.dialErrors ?? { unreachable: 0, refused: 0, untrusted: 0 },
  );
  new Gauge({
    name: 'burrow_relay_heartbeat_age_seconds',
    help: "Seconds since the registry last accepted this relay's heartbeat (NaN before the first).",
    registers,
    collect() {
      this.set(lastHeartbeat === undefined ? Number.NaN : (now() - lastHeartbeat) / 1000);
    },
  });

  const registrations = new Counter({
    name: 'burrow_relay_registrations_total',
    help: 'Name registrations (ssh -R), by result.',
    labelNames: ['result'],
    registers,
  });
  const takeovers = new Counter({
    name: 'burrow_relay_takeovers_total',
    help: "Registrations that replaced the same key's older connection to the name.",
    registers,
  });
  const refusals = new Counter({
    name: 'burrow_relay_refusals_total',
    help: 'Refusals, by kind (register, connect, revoke, connection) and reason.',
    labelNames: ['kind', 'reason'],
    registers,
  });
  const clients = new Counter({
    name: 'burrow_relay_client_connections_total',
    help: 'Clients asking for a name, by path (local, forwarded-out, forwarded-in) and result.',
    labelNames: ['path', 'result'],
    registers,
  });
  const bridged = new Counter({
    name: 'burrow_relay_bridged_bytes_total',
    help: 'Bytes carried by client-to-device bridges, counted when each bridge ends.',
    labelNames: ['direction'],
    registers,
  });
  const registrySeconds = new Histogram({
    name: 'burrow_relay_registry_seconds',
    help: 'Latency of registry operations, by operation.',
    labelNames: ['op'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const registryErrors = new Counter({
    name: 'burrow_relay_registry_errors_total',
    help: 'Registry operations that failed, by operation.',
    labelNames: ['op'],
    registers,
  });

  // Every series of a bounded label set exists from the start, at 0.
  for (const result of ['accepted', 'refused']) registrations.inc({ result }, 0);
  for (const [kind, reasons] of Object.entries(REFUSAL_KINDS)) {
    for (const reason of [...reasons, 'other']) refusals.inc({ kind, reason }, 0);
  }
  for (const path of CLIENT_PATHS) clients.inc({ path, result: 'bridged' }, 0);
  for (const direction of ['to-device', 'from-device']) bridged.inc({ direction }, 0);
  for (const op of TIMED_OPS) registryErrors.inc({ op }, 0);

  const refused = (kind: string, reason: string, n = 1) => {
    const known = REFUSAL_KINDS[kind]?.includes(reason) ?? false;
    refusals.inc({ kind, reason: known ? reason : 'other' }, n);
  };

  const audited = (e: AuditEvent): void => {
    switch (e.event) {
      case 'name.registered':
        registrations.inc({ result: 'accepted' });
        return;
      case 'name.taken_over':
        takeovers.inc();
        return;
      case 'name.refused':
        registrations.inc({ result: 'refused' });
        refused('register', isRegisterRefusal(e.reason) ? e.reason : 'other');
        return;
      case 'connect.refused':
        refused('connect', e.reason);
        return;
      case 'connect.closed':
        bridged.inc({ direction: 'to-device' }, e.bytes_to_device);
        bridged.inc({ direction: 'from-device' }, e.bytes_from_device);
        return;
      case 'conn.closed':
        if ((REVOKE_REASONS as readonly string[]).includes(e.reason)) refused('revoke', e.reason);
        return;
      case 'conn.refused.summary':
        for (const [reason, n] of Object.entries(e.by_reason)) refused('connection', reason, n);
        return;
    }
  };

  return {
    observer: {
      audited,
      clientConnection: (path: ClientPath, result: string) => clients.inc({ path, result }),
    },
    timeRegistry: (registry) =>
      timeRegistry(registry, {
        seconds: registrySeconds,
        errors: registryErrors,
        heartbeatOk: () => {
          lastHeartbeat = now();
        },
      }),
    watch(r) {
      relay = r;
    },
  };
}
