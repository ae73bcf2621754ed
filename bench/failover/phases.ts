/**
 * The phases of `npm run bench -- failover` (process death, silent loss, drain), their flags and
 * tables. The measurements are in process-death.ts, silent-loss.ts and drain.ts; the method is
 * bench/failover.md.
 */
import { definePhase, type FlagSpecs } from '../lib/runner.js';
import type { Cell } from '../lib/table.js';
import { type DrainResult, measureDrain } from './drain.js';
import type { SeriesStats } from './probe.js';
import { type DeathSample, measureProcessDeath, type ProcessDeathResult } from './process-death.js';
import { RESTART_SEC } from './recipe.js';
import { drainTargets, processDeathTargets, secs, silentLossTargets } from './results.js';
import { type LossSample, measureSilentLoss, type SilentLossResult } from './silent-loss.js';

/** Fewest kills per system for a result that is written down. */
export const MIN_RECORDED_KILLS = 20;
export const LOSS_SAMPLES = 3;
export const DRAINS = 6;

export const FAILOVER_FLAGS = {
  kills: {
    type: 'count',
    default: MIN_RECORDED_KILLS,
    help: `process-death rounds per system; fewer than ${MIN_RECORDED_KILLS} only with --no-write`,
  },
} as const satisfies FlagSpecs;
type Flags = typeof FAILOVER_FLAGS;

const BURROW = 'burrow agent';
const RECIPE = 'autossh + supervisor (OpenSSH recipe)';
const STATS_HEADERS = ['system', 'samples', 'p50', 'p90', 'p99', 'max', 'min'];

function statsRow(label: string, s: SeriesStats): Cell[] {
  const capped = s.capped ? ` (${s.capped} capped at ${secs(s.capMs, 0)})` : '';
  return [
    label,
    `${s.count}${capped}`,
    secs(s.p50Ms),
    secs(s.p90Ms),
    secs(s.p99Ms),
    secs(s.maxMs),
    secs(s.minMs),
  ];
}

function sampleList(samples: readonly { ms: number | null }[], digits = 2): string {
  return samples.map((s) => (s.ms === null ? 'capped' : (s.ms / 1000).toFixed(digits))).join(', ');
}

/** Median of the device side's own marks (e.g. the agent's `registered on`), as seconds. */
function deviceMarks(samples: readonly DeathSample[]): string {
  const v = samples
    .map((s) => s.deviceMs)
    .filter((x): x is number => x !== null)
    .sort((a, b) => a - b);
  if (v.length === 0) return secs(null);
  const mid = Math.floor(v.length / 2);
  return secs(v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2);
}

function stockAutosshNote(st: NonNullable<ProcessDeathResult['stockAutossh']>): string {
  const back =
    st.backAfterRestartMs === null
      ? `more than ${secs(st.capMs, 0)}`
      : secs(st.backAfterRestartMs, 1);
  return (
    `Stock autossh (\`AUTOSSH_GATETIME=0\`, no \`AUTOSSH_MAXSTART\`) with its relay dead for ` +
    `${st.downS} s: ${st.stillRunning ? 'still running' : 'exited'}, having started ssh ` +
    `${st.sshStartsWhileDown} times against the dead relay, so a \`Restart=\` supervisor ` +
    `${st.stillRunning ? 'never runs and the device never moves to another relay' : 'got to restart it'}. ` +
    `After the relay came back it was reachable again in ${back} (autossh backs off between restarts).`
  );
}

export const processDeathPhase = definePhase<Flags, ProcessDeathResult>({
  name: 'process-death',
  title: 'Process death: `kill -9` of the relay in use',
  async measure(scope, { flags, log }) {
    const result = await measureProcessDeath(scope, { kills: flags.kills, log });
    return { result, targets: processDeathTargets(result) };
  },
  tables(d) {
    const notes = [
      `Median time to the device side's own mark: the agent logging \`registered on\` the other ` +
        `relay ${deviceMarks(d.burrow.samples)}; the supervisor starting autossh towards the ` +
        `other relay ${deviceMarks(d.recipe.samples)} (its ${RESTART_SEC} s restart delay). ` +
        `The agent counted ${d.burrow.agentReconnects} reconnects for ${d.kills} kills.`,
      `Every sample, seconds: burrow ${sampleList(d.burrow.samples)}.`,
      `Recipe ${sampleList(d.recipe.samples)}.`,
    ];
    if (d.stockAutossh) notes.push(stockAutosshNote(d.stockAutossh));
    return [
      {
        title: `${d.kills} kills of each system: from the kill until \`ssh -J <other relay> … true\` works`,
        headers: STATS_HEADERS,
        rows: [statsRow(BURROW, d.burrow.stats), statsRow(RECIPE, d.recipe.stats)],
        notes,
      },
    ];
  },
});

export const silentLossPhase = definePhase<Flags, SilentLossResult>({
  name: 'silent-loss',
  title: 'Silent loss: the relay in use blackholed',
  async measure(scope, { log }) {
    const result = await measureSilentLoss(scope, { samples: LOSS_SAMPLES, log });
    return { result, targets: silentLossTargets(result) };
  },
  tables(l) {
    const row = (label: string, samples: LossSample[]): Cell[] => [
      label,
      sampleList(samples, 1),
      secs(Math.max(...samples.map((s) => s.ms ?? Number.POSITIVE_INFINITY)), 1),
      samples.map((s) => secs(s.detectedMs, 1)).join(', '),
      samples.map((s) => secs(s.reconnectedMs, 1)).join(', '),
    ];
    return [
      {
        title:
          `${l.samples} samples of each: the agent's keepalive every ${l.agentKeepalive.intervalS} s, ` +
          `dead after ${l.agentKeepalive.count} silent intervals; the recipe's ` +
          `\`ServerAliveInterval=${l.serverAlive.interval}\` × \`ServerAliveCountMax=${l.serverAlive.countMax}\`, ` +
          `then the supervisor's ${RESTART_SEC} s restart on the other relay`,
        headers: [
          'system',
          'samples, s',
          'max',
          'detected after',
          'reconnect started/registered after',
        ],
        rows: [row(BURROW, l.burrow.samples), row(RECIPE, l.recipe.samples)],
      },
    ];
  },
});

export const drainPhase = definePhase<Flags, DrainResult>({
  name: 'drain',
  title: 'Drain (burrow only): SIGTERM of the relay in use',
  async measure(scope, { log }) {
    const result = await measureDrain(scope, { drains: DRAINS, log });
    return { result, targets: drainTargets(result) };
  },
  tables(d) {
    return [
      {
        title:
          `${d.drains} drains; ${d.loops} client loops of \`ssh dev1-any true\`, going on ` +
          `${d.tailS} s after the agent's status names the other relay`,
        headers: [
          'drain',
          'relays',
          'agent moved after',
          'relay exited after',
          'connections',
          'after SIGTERM',
          'failed',
        ],
        rows: d.samples.map((s) => [
          s.drain,
          `${s.from} → ${s.to}`,
          secs(s.movedMs),
          `${secs(s.relayExitMs)} (exit ${s.relayExitCode ?? '?'})`,
          s.connections,
          s.afterSignal,
          s.failed,
        ]),
        notes: [`Total: ${d.connections} connections, ${d.failed} failed.`],
      },
    ];
  },
});
