/**
 * How devices spread over the survivors when one of three relays dies: real `burrow agent`
 * processes, with `--coordinator` or with their `--relay` list alone.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCoordinatorCli } from '../../test/helpers/coordinator.js';
import { type Scope, waitFor } from '../../test/helpers/index.js';
import { deviceKeys, policyOf } from './registry.js';
import { startCluster } from './world.js';

export interface SpreadResult {
  /** `coordinator`: agents ask `burrow coordinator` for a place; `relay-list`: --relay only. */
  mode: SpreadMode;
  agents: number;
  before: Record<string, number>;
  after: Record<string, number>;
  killed: string;
  /** ms from the kill until every agent was registered on a survivor. */
  settledMs: number | null;
  /** Each survivor's share of all agents, minus one half, over one half (e.g. 0.1 = +10%). */
  deviations: Record<string, number>;
}

export type SpreadMode = 'coordinator' | 'relay-list';

export async function measureSpread(
  scope: Scope,
  opts: {
    mode: SpreadMode;
    agents: number;
    ttl: string;
    heartbeat: string;
    log: (msg: string) => void;
  },
): Promise<SpreadResult> {
  const { agents, log } = opts;
  const keys = deviceKeys(agents).map((k) => ({ ...k, name: `a${k.name.slice(1)}` }));
  const cluster = await startCluster(scope, {
    relays: 3,
    ttl: opts.ttl,
    heartbeat: opts.heartbeat,
    policy: policyOf(keys),
  });
  const extra: string[] = [];
  if (opts.mode === 'coordinator') {
    const coordinator = await startCoordinatorCli(scope, cluster.redis, { ttl: opts.ttl });
    extra.push('--coordinator', coordinator.url);
  }
  const status: string[] = [];
  for (const [i, k] of keys.entries()) {
    const identity = join(cluster.dir, `agent_${k.name}`);
    writeFileSync(identity, k.privateKey, { mode: 0o600 });
    const statusFile = join(cluster.dir, `status-${k.name}.json`);
    status.push(statusFile);
    cluster.startAgent(cluster.relays, { name: k.name, identity, statusFile, extra });
    if (i % 10 === 9) await sleep(300);
  }
  const count = async (): Promise<Record<string, number> | undefined> => {
    const out: Record<string, number> = {};
    for (const r of cluster.relays) out[r.alias] = 0;
    for (const f of status) {
      const addr = await cluster.agentRelay(f);
      const r = cluster.relays.find((x) => x.addr === addr);
      if (!r || r.proc?.exit) return undefined;
      out[r.alias]! += 1;
    }
    return out;
  };
  const before = await waitFor(count, {
    what: `${agents} agents registered`,
    timeoutMs: 120_000,
    intervalMs: 250,
  });
  log(`spread (${opts.mode}): before ${JSON.stringify(before)}`);
  const victim = cluster.relays[0]!;
  const t0 = performance.now();
  await victim.kill9();
  let after: Record<string, number> | undefined;
  let settledMs: number | null = null;
  while (performance.now() - t0 < 60_000) {
    after = await count();
    if (after && after[victim.alias] === 0) {
      settledMs = Math.round(performance.now() - t0);
      break;
    }
    await sleep(200);
  }
  after ??= {};
  log(`spread (${opts.mode}): after ${JSON.stringify(after)} (${settledMs ?? 'not settled'} ms)`);
  const deviations: Record<string, number> = {};
  for (const r of cluster.relays.slice(1)) {
    deviations[r.alias] = ((after[r.alias] ?? 0) - agents / 2) / (agents / 2);
  }
  return { mode: opts.mode, agents, before, after, killed: victim.alias, settledMs, deviations };
}
