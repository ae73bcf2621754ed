import { Counter, Gauge, type Registry } from 'prom-client';
import type { AgentSnapshot, Phase } from '../agent/machine.js';

const PHASES: readonly Phase[] = [
  'starting',
  'connecting',
  'waiting',
  'connected',
  'moving',
  'stopped',
];

/**
 * An agent's metrics, registered on `register`, all read from its state snapshots: nothing in the
 * agent itself is instrumented. `observe` is given every snapshot (the agent's `onState`), and
 * the last one seen is what a scrape reports.
 */
export interface AgentMetrics {
  observe(snapshot: AgentSnapshot): void;
}

export function createAgentMetrics(register: Registry, now: () => number = Date.now): AgentMetrics {
  const registers = [register];
  let last: AgentSnapshot | undefined;
  /** When the agent last registered (the `since` of its latest relay); kept after a loss. */
  let registeredAt: number | undefined;
  let reconnects = 0;

  new Gauge({
    name: 'burrow_agent_state',
    help: "The agent's state: 1 for the current one, 0 for the others.",
    labelNames: ['state'],
    registers,
    collect() {
      for (const state of PHASES) this.set({ state }, last?.phase === state ? 1 : 0);
    },
  });
  new Gauge({
    name: 'burrow_agent_relay_draining',
    help: "1 while the relay serving the agent's names drains, else 0.",
    registers,
    collect() {
      this.set(last?.draining ? 1 : 0);
    },
  });
  new Counter({
    name: 'burrow_agent_reconnects_total',
    help: 'Successful registrations after the first.',
    registers,
    collect() {
      this.reset();
      this.inc(reconnects);
    },
  });
  new Gauge({
    name: 'burrow_agent_last_registration_age_seconds',
    help: 'Seconds since the agent last registered its names on a relay (NaN before the first).',
    registers,
    collect() {
      this.set(registeredAt === undefined ? Number.NaN : (now() - registeredAt) / 1000);
    },
  });

  return {
    observe(snapshot) {
      last = snapshot;
      if (snapshot.phase === 'connected' && snapshot.since !== undefined) {
        registeredAt = snapshot.since;
      }
      reconnects = snapshot.reconnects;
    },
  };
}
