/**
 * The coordinator benchmark's world: the cluster world of bench/cluster (a real redis-server and
 * three `burrow relay --registry redis://…` processes with the load generator's startup limits and
 * no per-source penalties),
 * one ed25519 key per device name in the relays' policy, and one `burrow coordinator` process on
 * the same Redis.
 */

import { startCoordinatorCli } from '../../test/helpers/coordinator.js';
import type { Proc, Scope } from '../../test/helpers/index.js';
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
  const { proc: coordinator, url } = await startCoordinatorCli(scope, cluster.redis, {
    ttl: opts.ttl,
    procOptions: { stopGraceMs: 10_000 },
  });
  return { cluster, keys, coordinator, url };
}
