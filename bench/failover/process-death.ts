/**
 * Process death: `kill -9` of the relay the device is on, clock started at the kill, stopped when
 * `ssh -J <the other relay> … true` first exits 0. burrow (two relay processes, one agent) and the
 * OpenSSH recipe (two sshd relays, supervised autossh) take turns, round by round. The killed
 * relay is restarted on its port before the next round, so every round starts from two healthy
 * relays with the device on one of them.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFleet } from '../../test/helpers/fleet.js';
import { type Proc, type Scope, waitFor } from '../../test/helpers/index.js';
import {
  logTime,
  ms1,
  pollUntilReachable,
  type ReachOutcome,
  reachThroughRelay,
  type SeriesStats,
  seriesStats,
} from './probe.js';
import { type Recipe, type RecipeRelay, startRecipe } from './recipe.js';

export const DEATH_CAP_MS = { burrow: 30_000, recipe: 60_000 } as const;
/** How long the stock-autossh check leaves its relay dead before restarting it. */
const STOCK_DOWN_MS = 20_000;
const STOCK_BACK_CAP_MS = 90_000;

export interface DeathSample extends ReachOutcome {
  round: number;
  killed: string;
  via: string;
  /**
   * The device side's own mark, ms after the kill: burrow, the agent's `registered on` log line;
   * the recipe, the supervisor starting autossh towards the other relay.
   */
  deviceMs: number | null;
  /** Time to start the killed relay again (not part of the measurement). */
  restartMs: number;
}

export interface StockAutosshCheck {
  downS: number;
  /** autossh still running after the relay had been dead for downS (so no supervisor restart). */
  stillRunning: boolean;
  /** ssh processes autossh started against the dead relay while it was down. */
  sshStartsWhileDown: number;
  /** ms from restarting the relay until the device was reachable through it again; null: capped. */
  backAfterRestartMs: number | null;
  capMs: number;
}

export interface ProcessDeathResult {
  kills: number;
  burrow: { stats: SeriesStats; agentReconnects: number; samples: DeathSample[] };
  recipe: { stats: SeriesStats; samples: DeathSample[] };
  stockAutossh: StockAutosshCheck | undefined;
}

export async function measureProcessDeath(
  scope: Scope,
  opts: { kills: number; log: (msg: string) => void },
): Promise<ProcessDeathResult> {
  const { kills, log } = opts;
  log('process-death: starting 2 burrow relays + agent, 2 OpenSSH relays + supervised autossh');
  const fleet = await startFleet(scope, { relays: 2 });
  const agent = fleet.startAgent();
  await agent.waitForLine(/registered on/, { stream: 'stderr', timeoutMs: 15_000 });
  const recipe = await startRecipe(scope, {
    dir: fleet.dir,
    deviceKey: fleet.devKey,
    operatorKey: fleet.opKey,
    device: fleet.sshd,
  });
  const supervisor = recipe.startSupervisor();

  const burrow: DeathSample[] = [];
  const openssh: DeathSample[] = [];
  for (let round = 1; round <= kills; round++) {
    // Alternate which system goes first, so neither always runs right after the other's restart.
    const pair = [
      async () => burrow.push(await burrowRound(fleet, agent, round)),
      async () => openssh.push(await recipeRound(recipe, supervisor, round)),
    ];
    for (const step of round % 2 === 1 ? pair : pair.reverse()) await step();
    const b = burrow[burrow.length - 1]!;
    const o = openssh[openssh.length - 1]!;
    log(
      `process-death ${round}/${kills}: burrow ${fmt(b.ms)} (${b.attempts} tries), ` +
        `recipe ${fmt(o.ms)} (${o.attempts} tries)`,
    );
  }
  const reconnects = (await fleet.status()).state.reconnects;
  await supervisor.stop();
  log('process-death: stock autossh check (does it ever leave a dead relay?)');
  const stock = await stockAutosshCheck(recipe, `${fleet.dir}/autossh-stock.log`);
  return {
    kills,
    burrow: {
      stats: seriesStats(burrow, DEATH_CAP_MS.burrow),
      agentReconnects: reconnects,
      samples: burrow,
    },
    recipe: { stats: seriesStats(openssh, DEATH_CAP_MS.recipe), samples: openssh },
    stockAutossh: stock,
  };
}

type Fleet = Awaited<ReturnType<typeof startFleet>>;

async function burrowRound(fleet: Fleet, agent: Proc, round: number): Promise<DeathSample> {
  const inUseId = await waitFor(
    async () => {
      const st = (await fleet.status()).state;
      return st.phase === 'connected' ? st.relay : undefined;
    },
    { what: 'the agent to be registered', timeoutMs: 30_000 },
  );
  const inUse = fleet.relays.find((r) => r.id === inUseId)!;
  const other = fleet.relays.find((r) => r !== inUse)!;
  await fleet.waitReachable(inUse, 30_000);
  const mark = agent.mark();
  const killedAt = Date.now();
  const t0 = performance.now();
  inUse.proc!.signal('SIGKILL');
  const outcome = await pollUntilReachable(
    () => reachThroughRelay(fleet, other),
    t0,
    DEATH_CAP_MS.burrow,
  );
  const registered = await logTime(agent, /registered on/, mark);
  await inUse.proc!.stopped();
  const r0 = performance.now();
  await inUse.start();
  return sample(round, inUse.alias, other.alias, outcome, registered, killedAt, r0);
}

async function recipeRound(recipe: Recipe, supervisor: Proc, round: number): Promise<DeathSample> {
  const inUse = recipe.current(supervisor);
  const other = recipe.other(inUse);
  await reachable(recipe, inUse, 60_000);
  const mark = supervisor.mark();
  const killedAt = Date.now();
  const t0 = performance.now();
  await inUse.kill();
  const outcome = await pollUntilReachable(() => recipe.reach(other), t0, DEATH_CAP_MS.recipe);
  const started = await supervisorTime(supervisor, `starting autossh to ${other.alias}`, mark);
  const r0 = performance.now();
  await inUse.start();
  return sample(round, inUse.alias, other.alias, outcome, started, killedAt, r0);
}

function sample(
  round: number,
  killed: string,
  via: string,
  outcome: ReachOutcome,
  deviceAt: number | undefined,
  killedAt: number,
  restartT0: number,
): DeathSample {
  return {
    round,
    killed,
    via,
    ...outcome,
    ms: outcome.ms === null ? null : ms1(outcome.ms),
    deviceMs: deviceAt === undefined ? null : deviceAt - killedAt,
    restartMs: ms1(performance.now() - restartT0),
  };
}

/** Waits (bounded) until the device answers through `relay`'s forwarded port. */
export async function reachable(recipe: Recipe, relay: RecipeRelay, timeoutMs: number) {
  await waitFor(async () => (await recipe.reach(relay)).code === 0, {
    what: `the device reachable through the recipe's ${relay.alias}`,
    timeoutMs,
    intervalMs: 200,
  });
}

/** Epoch ms the supervisor printed on its first line after `from` containing `text`. */
export async function supervisorTime(
  supervisor: Proc,
  text: string,
  from: number,
): Promise<number | undefined> {
  try {
    const r = await supervisor.waitForLineOrExit(new RegExp(`supervisor: (\\d+) ${text}`), {
      stream: 'stderr',
      from,
      timeoutMs: 2000,
    });
    return r.match ? Number(r.match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Unmodified autossh (AUTOSSH_GATETIME=0, no AUTOSSH_MAXSTART) on relayA: kill the relay, leave it
 * dead for STOCK_DOWN_MS, see whether autossh is still running (if it is, a Restart= supervisor
 * never gets to choose another relay), then restart the relay and time the way back.
 */
async function stockAutosshCheck(recipe: Recipe, logPath: string): Promise<StockAutosshCheck> {
  const relay = recipe.relays[0];
  const stock = recipe.stockAutossh(relay, logPath);
  await reachable(recipe, relay, 60_000);
  await relay.kill();
  const startsBefore = countStarts(logPath);
  await sleep(STOCK_DOWN_MS);
  const stillRunning = stock.exit === undefined;
  const sshStartsWhileDown = countStarts(logPath) - startsBefore;
  const t0 = performance.now();
  await relay.start();
  const back = await pollUntilReachable(() => recipe.reach(relay), t0, STOCK_BACK_CAP_MS);
  await stock.stop();
  return {
    downS: STOCK_DOWN_MS / 1000,
    stillRunning,
    sshStartsWhileDown,
    backAfterRestartMs: back.ms === null ? null : ms1(back.ms),
    capMs: STOCK_BACK_CAP_MS,
  };
}

function countStarts(logPath: string): number {
  try {
    return readFileSync(logPath, 'utf8').split('starting ssh').length - 1;
  } catch {
    return 0;
  }
}

function fmt(ms: number | null): string {
  return ms === null ? 'capped' : `${(ms / 1000).toFixed(2)} s`;
}
