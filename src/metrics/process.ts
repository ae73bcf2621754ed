import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * A registry of metrics for one burrow process, with the process's own metrics (CPU, resident
 * memory, event-loop lag, heap, open file descriptors) as prom-client's defaults under `burrow_`.
 *
 * Contract: each call returns a new Registry (never prom-client's global one), so a process that
 * runs several components (a relay and a coordinator) hands the same registry to each component's
 * `create…Metrics`, and tests can run many in one process without their series colliding.
 */
export function createMetricsRegistry(): Registry {
  const register = new Registry();
  collectDefaultMetrics({ register, prefix: 'burrow_' });
  return register;
}

export type { Registry } from 'prom-client';
