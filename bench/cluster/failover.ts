/**
 * kill -9 of the relay holding dev1, with the device's agent on [A, C] and B never the holder:
 * the clock starts at the kill; two operators poll at once, one entering through B (which must
 * learn the new holder from the registry and reach it over its peer link), one entering through
 * the new holder itself (the baseline: the agent's reconnect alone). The killed relay is started
 * again before the next round, so every round starts with three live relays.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunResult, Scope } from '../../test/helpers/index.js';
import { waitFor } from '../../test/helpers/index.js';
import {
  ATTEMPT,
  pollUntilReachable,
  type ReachOutcome,
  type SeriesStats,
  seriesStats,
} from '../failover/probe.js';
import { type Cluster, type ClusterRelay, startCluster } from './world.js';

export const FAILOVER_CAP_MS = 30_000;

export interface KillSample {
  round: number;
  killed: string;
  newHolder: string;
  viaB: ReachOutcome;
  viaHolder: ReachOutcome;
}

export interface ClusterFailoverResult {
  kills: number;
  ttl: string;
  heartbeat: string;
  viaB: SeriesStats;
  viaHolder: SeriesStats;
  samples: KillSample[];
}

function reach(cluster: Cluster, relay: ClusterRelay): Promise<RunResult> {
  return cluster.op.run(
    ['-o', `ConnectTimeout=${ATTEMPT.connectTimeoutSec}`, '-J', relay.alias, 'dev1', 'true'],
    { timeoutMs: ATTEMPT.timeoutMs },
  );
}

export async function measureClusterFailover(
  scope: Scope,
  opts: { kills: number; ttl: string; heartbeat: string; log: (msg: string) => void },
): Promise<ClusterFailoverResult> {
  const { kills, log } = opts;
  log('failover: starting Redis, relays A, B, C, the device sshd and its agent on [A, C]');
  const cluster = await startCluster(scope, {
    relays: 3,
    ttl: opts.ttl,
    heartbeat: opts.heartbeat,
  });
  const [a, b, c] = cluster.relays as [ClusterRelay, ClusterRelay, ClusterRelay];
  const statusFile = `${cluster.dir}/agent-failover.json`;
  cluster.startAgent([a, c], { statusFile });
  const samples: KillSample[] = [];
  for (let round = 1; round <= kills; round++) {
    const holderAddr = await waitFor(() => cluster.agentRelay(statusFile), {
      what: 'the agent to be registered',
      timeoutMs: 30_000,
      intervalMs: 50,
    });
    const holder = holderAddr === a.addr ? a : c;
    const next = holder === a ? c : a;
    await waitFor(async () => (await reach(cluster, b)).code === 0, {
      what: `dev1 reachable through B before kill ${round}`,
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    const t0 = performance.now();
    await holder.kill9();
    const [viaB, viaHolder] = await Promise.all([
      pollUntilReachable(() => reach(cluster, b), t0, FAILOVER_CAP_MS),
      pollUntilReachable(() => reach(cluster, next), t0, FAILOVER_CAP_MS),
    ]);
    const r1 = (o: ReachOutcome) => ({
      ...o,
      ms: o.ms === null ? null : Math.round(o.ms * 10) / 10,
    });
    samples.push({
      round,
      killed: holder.alias,
      newHolder: next.alias,
      viaB: r1(viaB),
      viaHolder: r1(viaHolder),
    });
    log(
      `failover ${round}/${kills}: killed ${holder.alias}; through B ${fmt(viaB.ms)} ` +
        `(${viaB.attempts} tries), through ${next.alias} ${fmt(viaHolder.ms)} (${viaHolder.attempts} tries)`,
    );
    await holder.start();
    await sleep(200);
  }
  return {
    kills,
    ttl: opts.ttl,
    heartbeat: opts.heartbeat,
    viaB: seriesStats(
      samples.map((s) => s.viaB),
      FAILOVER_CAP_MS,
    ),
    viaHolder: seriesStats(
      samples.map((s) => s.viaHolder),
      FAILOVER_CAP_MS,
    ),
    samples,
  };
}

const fmt = (ms: number | null) => (ms === null ? 'capped' : `${Math.round(ms)} ms`);
