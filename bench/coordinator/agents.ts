/**
 * N agents starting at once with `--coordinator`, three relays. N `burrow agent` processes do not
 * fit one 2-core machine, so the agents run in the benchmark's own process through the agent's
 * library: `startAgent` with `askPlacement`, the supervisor, placement client, host key check
 * (a known_hosts file) and SSH link that `burrow agent --coordinator` runs, one ed25519 key and
 * one name each, no `--relay` list. All are started in the same tick; the clock runs until every
 * one is registered (its supervisor says connected, which it does once the relay accepted every
 * forward, and a relay accepts only after claiming the name in Redis).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { type Agent, hostKeyTrust } from '../../src/agent/index.js';
import type { Scope } from '../../test/helpers/index.js';
import { startPlacedAgent } from '../../test/helpers/placed-agent.js';
import { nameCount } from '../cluster/registry.js';
import { startCoordinatorWorld } from './world.js';

export interface AgentsResult {
  agents: number;
  /** ms from the first start until every agent was registered; null when capped. */
  allRegisteredMs: number | null;
  capMs: number;
  /** Agents registered per relay alias. */
  perRelay: Record<string, number>;
  /** Agents registered when the clock stopped. */
  registered: number;
  /** Each relay's share of the registered agents minus a third, over a third (0.1 = +10%). */
  deviations: Record<string, number>;
  /** Placement questions asked in all (one per agent when nothing failed). */
  placements: number;
  placementErrors: number;
  /** Agents that met any error before registering (an attempt or a question that failed). */
  agentsWithAnError: number;
  namesInRedis: number;
  /** Last error of the agents not registered at the end, by reason. */
  pendingReasons: Record<string, number>;
}

export async function measureAgents(
  scope: Scope,
  opts: { agents: number; capS: number; ttl: string; heartbeat: string; log: (m: string) => void },
): Promise<AgentsResult> {
  const { log } = opts;
  const w = await startCoordinatorWorld(scope, {
    devices: opts.agents,
    ttl: opts.ttl,
    heartbeat: opts.heartbeat,
  });
  const trust = hostKeyTrust({
    pinned: [],
    knownHostsFile: w.cluster.knownHosts,
    acceptNew: false,
  });
  const _silent = pino({ level: 'silent' });
  let placements = 0;
  let placementErrors = 0;
  const agents: Agent[] = [];
  const t0 = performance.now();
  for (const k of w.keys) {
    const agent = startPlacedAgent({
      name: k.name,
      privateKey: k.privateKey,
      targetPort: 9,
      coordinator: w.url,
      trust,
      backoffCapMs: 30_000,
      onAsk: () => placements++,
      onAnswer: (a) => {
        if ('error' in a) placementErrors++;
      },
      onExit: (code, message) => {
        if (code !== 0) log(`agent ${k.name} exited ${code}: ${message}`);
      },
    });
    agents.push(agent);
  }
  scope.defer(() => {
    for (const a of agents) a.close();
  }, 'in-process agents');

  const capMs = opts.capS * 1000;
  let allRegisteredMs: number | null = null;
  let lastLog = 0;
  while (performance.now() - t0 < capMs) {
    const connected = agents.filter((a) => a.status().phase === 'connected').length;
    const t = performance.now() - t0;
    if (connected === agents.length) {
      allRegisteredMs = Math.round(t);
      break;
    }
    if (t - lastLog > 2000) {
      log(`agents: ${connected}/${agents.length} registered after ${(t / 1000).toFixed(1)} s`);
      lastLog = t;
    }
    await sleep(20);
  }
  const perRelay: Record<string, number> = {};
  for (const r of w.cluster.relays) perRelay[r.alias] = 0;
  let agentsWithAnError = 0;
  const pendingReasons: Record<string, number> = {};
  for (const a of agents) {
    const s = a.status();
    if (s.lastError) agentsWithAnError++;
    if (s.phase !== 'connected') {
      const why = `${s.phase}: ${s.lastError?.message.slice(0, 80) ?? 'no error'}`;
      pendingReasons[why] = (pendingReasons[why] ?? 0) + 1;
    }
    const r = w.cluster.relays.find((x) => x.addr === s.relay);
    if (r && s.phase === 'connected') perRelay[r.alias]! += 1;
  }
  // Shares of the agents registered when the clock stopped (all of them unless capped).
  const registered = Object.values(perRelay).reduce((a, b) => a + b, 0);
  const third = registered / 3;
  const deviations: Record<string, number> = {};
  for (const [k, n] of Object.entries(perRelay)) deviations[k] = (n - third) / third;
  const namesInRedis = nameCount(w.cluster.redis);
  if (Object.keys(pendingReasons).length > 0) {
    log(`agents: not registered: ${JSON.stringify(pendingReasons)}`);
  }
  log(
    `agents: all registered ${allRegisteredMs === null ? 'never (capped)' : `after ${allRegisteredMs} ms`}; ${JSON.stringify(perRelay)}; ${placements} placements`,
  );
  return {
    agents: opts.agents,
    registered,
    allRegisteredMs,
    capMs,
    perRelay,
    deviations,
    placements,
    placementErrors,
    agentsWithAnError,
    namesInRedis,
    pendingReasons,
  };
}
