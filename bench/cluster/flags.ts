/** The flags of `npm run bench -- cluster` (bench/cluster.bench.ts). */
import { REGISTRY_TIMING_FLAGS } from '../lib/flags.js';
import type { FlagSpecs } from '../lib/runner.js';

export const CLUSTER_FLAGS = {
  runs: { type: 'count', default: 30, help: 'latency: ssh -J … dev1 true runs per path' },
  size: { type: 'size', default: '1G', help: 'throughput: bytes per transfer; K/M/G suffixes' },
  rounds: {
    type: 'count',
    default: 3,
    help: 'throughput: rounds per path; the median is reported',
  },
  kills: { type: 'count', default: 20, help: 'failover: kill -9 rounds' },
  names: { type: 'count', default: 10_000, help: 'redis-restart: names registered on one relay' },
  devices: { type: 'count', default: 10_000, help: 'registrations: devices per registry run' },
  'reg-rounds': { type: 'count', default: 1, help: 'registrations: memory/redis run pairs' },
  concurrency: { type: 'count', default: 64, help: 'load generator connections in flight' },
  agents: { type: 'count', default: 60, help: 'spread: burrow agent processes on 3 relays' },
  'idle-window': {
    type: 'count',
    default: 15,
    min: 3,
    help: 'redis-restart: seconds of idle commands sampled',
  },
  ...REGISTRY_TIMING_FLAGS,
} as const satisfies FlagSpecs;
export type ClusterFlags = typeof CLUSTER_FLAGS;
