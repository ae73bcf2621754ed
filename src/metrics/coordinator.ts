import { Counter, Gauge, type Registry } from 'prom-client';
import type { RelayRecord } from '../registry/registry.js';

/** Results of a placement request, as `burrow_coordinator_placements_total{result}` counts them. */
export const PLACEMENT_RESULTS = ['placed', 'none', 'bad-request', 'registry-unavailable'] as const;
export type PlacementResult = (typeof PLACEMENT_RESULTS)[number];

export type RelayState = 'up' | 'draining' | 'lost';

export interface CoordinatorMetricsSource {
  /** The registry's relays; a failure reports the registry as down for that scrape. */
  relays(): Promise<RelayRecord[]>;
  /** A relay's state as the API reports it. */
  stateOf(relay: RelayRecord, now: number): RelayState;
  readonly now: () => number;
}

/**
 * A coordinator's metrics, registered on `register`: relays by state, names and devices read from
 * the registry at scrape time (one `relays()` call per scrape), and placements counted as they
 * are answered.
 */
export interface CoordinatorMetrics {
  placed(result: PlacementResult): void;
  /** The registry each scrape reads (set once at start). */
  watch(source: CoordinatorMetricsSource): void;
  /** The text of a scrape and its content type. */
  scrape(): Promise<{ contentType: string; text: string }>;
}

export function createCoordinatorMetrics(register: Registry): CoordinatorMetrics {
  const registers = [register];
  let source: CoordinatorMetricsSource | undefined;
  const placements = new Counter({
    name: 'burrow_coordinator_placements_total',
    help: 'Placement requests, by result.',
    labelNames: ['result'],
    registers,
  });
  for (const result of PLACEMENT_RESULTS) placements.inc({ result }, 0);
  // One registry read per scrape, shared by the gauges it feeds (a scrape collects them all at once).
  let reading: Promise<ClusterView> | undefined;
  const read = (): Promise<ClusterView> => {
    if (!reading) {
      reading = readCluster(source);
      void reading.finally(() => {
        reading = undefined;
      });
    }
    return reading;
  };
  new Gauge({
    name: 'burrow_coordinator_relays',
    help: 'Relays in the registry, by state (up, draining, lost).',
    labelNames: ['state'],
    registers,
    async collect() {
      const view = await read();
      for (const [state, n] of Object.entries(view.relays)) this.set({ state }, n);
    },
  });
  new Gauge({
    name: 'burrow_coordinator_names',
    help: 'Names registered across the cluster, as the relays last reported.',
    registers,
    async collect() {
      this.set((await read()).names);
    },
  });
  new Gauge({
    name: 'burrow_coordinator_devices',
    help: 'Connections to relays across the cluster, as the relays last reported.',
    registers,
    async collect() {
      this.set((await read()).devices);
    },
  });
  new Gauge({
    name: 'burrow_coordinator_registry_up',
    help: '1 when the registry answered this scrape, else 0.',
    registers,
    async collect() {
      this.set((await read()).up ? 1 : 0);
    },
  });

  return {
    placed: (result) => placements.inc({ result }),
    watch(s) {
      source = s;
    },
    async scrape() {
      return { contentType: register.contentType, text: await register.metrics() };
    },
  };
}

interface ClusterView {
  readonly up: boolean;
  readonly relays: Record<RelayState, number>;
  readonly names: number;
  readonly devices: number;
}

/** The cluster summary a scrape reports; all zero, and `up` false, when the registry fails. */
async function readCluster(source: CoordinatorMetricsSource | undefined): Promise<ClusterView> {
  const relays = { up: 0, draining: 0, lost: 0 };
  if (!source) return { up: false, relays, names: 0, devices: 0 };
  try {
    const list = await source.relays();
    const t = source.now();
    let names = 0;
    let devices = 0;
    for (const r of list) {
      relays[source.stateOf(r, t)] += 1;
      names += r.names;
      devices += r.connections;
    }
    return { up: true, relays, names, devices };
  } catch {
    return { up: false, relays, names: 0, devices: 0 };
  }
}
