/**
 * The coordinator benchmark's world: the cluster world of bench/cluster (a real redis-server and
 * three `burrow relay --registry redis://…` processes with the load generator's startup limits and
 * no per-source penalties),
 * one ed25519 key per device name in the relays' policy, and one `burrow coordinator` process on
 * the same Redis.
 */
import { freePort, type Proc, type Scope } from '../../test/helpers/index.js';
import { startCli } from '../../test/helpers/relay.js';
import { type DeviceKey, deviceKeys, LOAD_RELAY_ARGS, policyOf } from '../cluster/registry.js';
import { type Cluster, startCluster } from '../cluster/world.js';

export interface CoordinatorWorld {
  readonly cluster: Cluster;
  readonly keys: readonly DeviceKey[];
  readonly coordinator: Proc;
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
}

export async function startCoordinatorWorld(
  scope: Scope,
  opts: { devices: number; ttl: string; heartbeat: string },
): Promise<CoordinatorWorld> {
  const keys = deviceKeys(opts.devices);
  const cluster = await startCluster(scope, {
    relays: 3,
    ttl: opts.ttl,
    heartbeat: opts.heartbeat,
    policy: policyOf(keys),
    // Every device here shares 127.0.0.1: one penalised handshake must not lock out the rest.
    relayArgs: [...LOAD_RELAY_ARGS, '--per-source-penalties', 'no'],
  });
  const port = await freePort();
  const coordinator = startCli(
    scope,
    [
      'coordinator',
      ...['--registry', cluster.redis.url, '--listen', `127.0.0.1:${port}`],
      ...['--registry-ttl', opts.ttl],
    ],
    { name: 'coordinator', stopGraceMs: 10_000 },
  );
  await coordinator.waitForLine(/coordinator listening on/, { stream: 'stderr' });
  return { cluster, keys, coordinator, url: `http://127.0.0.1:${port}` };
}
