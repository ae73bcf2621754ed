/**
 * Silent loss: the network between the device and its relay stops carrying bytes, and nothing is
 * closed (a TCP proxy in front of each relay, blackholed). Clock started at the blackhole, stopped
 * when `ssh -J <the other relay> … true` first exits 0. Default liveness settings on both sides:
 * the agent's keepalive (5 s × 2) and the recipe's ServerAliveInterval 10 × ServerAliveCountMax 3
 * plus the supervisor's 5 s restart. burrow and the recipe take turns, sample by sample; after
 * each sample the proxy is resumed and its stale connection allowed to close.
 */
import { appendFileSync } from 'node:fs';
import { startFleet } from '../../test/helpers/fleet.js';
import {
  type Proc,
  type Scope,
  startProxy,
  type TcpProxy,
  waitFor,
} from '../../test/helpers/index.js';
import {
  logTime,
  ms1,
  pollUntilReachable,
  type ReachOutcome,
  reachThroughRelay,
  type SeriesStats,
  seriesStats,
} from './probe.js';
import { reachable, supervisorTime } from './process-death.js';
import { type Recipe, SERVER_ALIVE, startRecipe } from './recipe.js';

export const LOSS_CAP_MS = { burrow: 60_000, recipe: 120_000 } as const;
export const AGENT_KEEPALIVE = { intervalS: 5, count: 2 } as const;

export interface LossSample extends ReachOutcome {
  sample: number;
  lost: string;
  via: string;
  /**
   * ms after the blackhole: burrow, the agent logging the keepalive timeout and then `registered
   * on`; the recipe, autossh exiting (its ssh gave up) and the supervisor starting the next one.
   */
  detectedMs: number | null;
  reconnectedMs: number | null;
}

export interface SilentLossResult {
  samples: number;
  agentKeepalive: { intervalS: number; count: number };
  serverAlive: { interval: number; countMax: number };
  burrow: { stats: SeriesStats; samples: LossSample[] };
  recipe: { stats: SeriesStats; samples: LossSample[] };
}

export async function measureSilentLoss(
  scope: Scope,
  opts: { samples: number; log: (msg: string) => void },
): Promise<SilentLossResult> {
  const { samples, log } = opts;
  log('silent-loss: starting both setups, each relay behind a TCP proxy');
  const fleet = await startFleet(scope, { relays: 2 });
  const proxies: TcpProxy[] = [];
  for (const r of fleet.relays) {
    const p = await startProxy(scope, r.port);
    // The agent checks host keys per host:port: the proxy's port must carry the relay's key.
    appendFileSync(fleet.knownHosts, `[127.0.0.1]:${p.port} ${r.hostKey.publicKey}\n`);
    proxies.push(p);
  }
  const agent = fleet.startAgent(['--relay', proxies.map((p) => `127.0.0.1:${p.port}`).join(',')]);
  await agent.waitForLine(/registered on/, { stream: 'stderr', timeoutMs: 15_000 });
  const recipe = await startRecipe(scope, {
    dir: fleet.dir,
    deviceKey: fleet.devKey,
    operatorKey: fleet.opKey,
    device: fleet.sshd,
    proxies: true,
  });
  const supervisor = recipe.startSupervisor();

  const burrow: LossSample[] = [];
  const openssh: LossSample[] = [];
  for (let i = 1; i <= samples; i++) {
    const b = await burrowSample(fleet, proxies, agent, i);
    burrow.push(b);
    log(`silent-loss ${i}/${samples}: burrow ${fmt(b.ms)}; recipe running (up to 2 min)…`);
    const o = await recipeSample(recipe, supervisor, i);
    openssh.push(o);
    log(`silent-loss ${i}/${samples}: recipe ${fmt(o.ms)}`);
  }
  await supervisor.stop();
  return {
    samples,
    agentKeepalive: { ...AGENT_KEEPALIVE },
    serverAlive: { ...SERVER_ALIVE },
    burrow: { stats: seriesStats(burrow, LOSS_CAP_MS.burrow), samples: burrow },
    recipe: { stats: seriesStats(openssh, LOSS_CAP_MS.recipe), samples: openssh },
  };
}

type Fleet = Awaited<ReturnType<typeof startFleet>>;

async function burrowSample(
  fleet: Fleet,
  proxies: TcpProxy[],
  agent: Proc,
  n: number,
): Promise<LossSample> {
  const inUseId = await waitFor(
    async () => {
      const st = (await fleet.status()).state;
      return st.phase === 'connected' ? st.relay : undefined;
    },
    { what: 'the agent to be registered', timeoutMs: 30_000 },
  );
  const k = proxies.findIndex((p) => `127.0.0.1:${p.port}` === inUseId);
  if (k < 0) throw new Error(`the agent is on ${inUseId}, not behind a proxy`);
  const [inUse, other, proxy] = [fleet.relays[k]!, fleet.relays[1 - k]!, proxies[k]!];
  await fleet.waitReachable(inUse, 30_000);
  const mark = agent.mark();
  const at = Date.now();
  const t0 = performance.now();
  proxy.blackhole();
  const outcome = await pollUntilReachable(
    () => reachThroughRelay(fleet, other),
    t0,
    LOSS_CAP_MS.burrow,
  );
  const detected = await logTime(agent, /keepalive-timeout/, mark);
  const registered = await logTime(agent, /registered on/, mark);
  await settle(proxy);
  return sample(n, inUse.alias, other.alias, outcome, detected, registered, at);
}

async function recipeSample(recipe: Recipe, supervisor: Proc, n: number): Promise<LossSample> {
  const inUse = recipe.current(supervisor);
  const other = recipe.other(inUse);
  await reachable(recipe, inUse, 60_000);
  const mark = supervisor.mark();
  const at = Date.now();
  const t0 = performance.now();
  inUse.proxy!.blackhole();
  const outcome = await pollUntilReachable(() => recipe.reach(other), t0, LOSS_CAP_MS.recipe);
  const exited = await supervisorTime(supervisor, 'autossh exited', mark);
  const started = await supervisorTime(supervisor, `starting autossh to ${other.alias}`, mark);
  await settle(inUse.proxy!);
  return sample(n, inUse.alias, other.alias, outcome, exited, started, at);
}

/** Resumes the proxy and waits (bounded) until the stale connection through it has closed. */
async function settle(proxy: TcpProxy): Promise<void> {
  proxy.resume();
  await waitFor(() => proxy.connections === 0, {
    what: 'the stale connection through the resumed proxy to close',
    timeoutMs: 30_000,
    intervalMs: 100,
  });
}

function sample(
  n: number,
  lost: string,
  via: string,
  outcome: ReachOutcome,
  detectedAt: number | undefined,
  reconnectedAt: number | undefined,
  at: number,
): LossSample {
  return {
    sample: n,
    lost,
    via,
    ...outcome,
    ms: outcome.ms === null ? null : ms1(outcome.ms),
    detectedMs: detectedAt === undefined ? null : detectedAt - at,
    reconnectedMs: reconnectedAt === undefined ? null : reconnectedAt - at,
  };
}

function fmt(ms: number | null): string {
  return ms === null ? 'capped' : `${(ms / 1000).toFixed(1)} s`;
}
