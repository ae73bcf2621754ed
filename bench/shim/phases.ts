/**
 * The phases of `npm run bench -- shim` (no faults, cuts) and their tables. The measurements are
 * in no-faults.ts and cuts.ts; the method is bench/shim.md.
 */
import { definePhase, type FlagSpecs } from '../lib/runner.js';
import type { Cell } from '../lib/table.js';
import { type CutResult, type CutRun, measureCuts } from './cuts.js';
import { measureNoFaults, type NoFaultResult } from './no-faults.js';
import {
  cutTargets,
  effectiveCuts,
  exitText,
  noFaultTargets,
  pct,
  seconds,
  shaText,
  sizeLabel,
} from './results.js';
import { FORM_LABELS, startBenchWorld } from './world.js';

/** Fewest fault-free runs per transport for a result that is written down. */
export const MIN_RECORDED_ROUNDS = 3;

export const SHIM_FLAGS = {
  size: { type: 'size', default: '1G', help: 'the file rsync sends; K/M/G suffixes' },
  rounds: {
    type: 'count',
    default: MIN_RECORDED_ROUNDS,
    help: 'fault-free runs per transport, alternating; medians are compared; fewer only with --no-write',
  },
  'cut-every': {
    type: 'interval',
    default: '10s',
    help: 'interval between connection cuts in the cut runs: 10s, 500ms, 1m',
  },
  'no-plain-cut': { type: 'boolean', help: 'skip the run of plain ssh under the same cuts' },
} as const satisfies FlagSpecs;
type Flags = typeof SHIM_FLAGS;

const cpu = (v: number | null | undefined) => (typeof v === 'number' ? v.toFixed(2) : '–');

const RUN_HEADERS = [
  'round',
  'transport',
  'time',
  'MiB/s',
  'CPU s: local shim',
  'remote holder',
  'machine CPU s',
];

function runRows(r: NoFaultResult): Cell[][] {
  return r.samples.map((s) => [
    s.round,
    FORM_LABELS[s.form],
    seconds(s.seconds),
    s.mibPerSec.toFixed(0),
    cpu(s.shimCpu?.local),
    cpu(s.shimCpu?.holder),
    s.machineCpuSeconds.toFixed(1),
  ]);
}

const MEDIAN_HEADERS = [
  'transport',
  'median time',
  'median MiB/s',
  'median machine CPU s',
  'vs ssh',
];

function medianRows(r: NoFaultResult): Cell[][] {
  const ssh = r.forms.find((f) => f.form === 'ssh')!;
  return r.forms.map((f) => [
    FORM_LABELS[f.form],
    seconds(f.medianSeconds),
    f.medianMiBps.toFixed(0),
    f.medianMachineCpuSeconds.toFixed(1),
    f.form === 'ssh' ? '–' : pct(f.medianSeconds / ssh.medianSeconds - 1),
  ]);
}

const CUT_HEADERS = [
  'run',
  'time',
  'exit',
  'cuts (reset a connection)',
  'ssh connections',
  'reconnect lines',
  'CPU s: local shim, --serve (resumed connections), holder',
  'sha256 vs source',
];

function cutRuns(r: CutResult): { label: string; run: CutRun }[] {
  const every = `${r.cutEveryMs / 1000} s`;
  const runs = [
    { label: 'burrow shim, no cuts (reference)', run: r.reference },
    { label: `burrow shim, cut every ${every}`, run: r.shim },
  ];
  if (r.plainSsh) runs.push({ label: `plain ssh, cut every ${every}`, run: r.plainSsh });
  return runs;
}

function cutRows(r: CutResult): Cell[][] {
  return cutRuns(r).map(({ label, run }) => [
    label,
    seconds(run.seconds, 1),
    exitText(run),
    run.cutting ? `${run.cuts.length} (${effectiveCuts(run)})` : '–',
    run.connections,
    run.reconnectLines,
    run.shimCpu
      ? [run.shimCpu.local, run.shimCpu.serve, run.shimCpu.holder].map(cpu).join(', ')
      : '–',
    shaText(run),
  ]);
}

/**
 * Whether the machine was CPU-bound, and how much of the shim's extra time its CPU explains:
 * computed from the medians, so it stays true for whatever a run measured.
 */
function cpuNote(r: NoFaultResult, cores: number): string {
  const of = (form: string) => r.forms.find((f) => f.form === form)!;
  const busy = (form: string) =>
    `${((of(form).medianMachineCpuSeconds / (cores * of(form).medianSeconds)) * 100).toFixed(0)}%`;
  const extra = of('shim').medianMachineCpuSeconds - of('ssh').medianMachineCpuSeconds;
  const m = r.shimCpuMedian;
  const own = [m.local, m.holder].every((v) => v !== null)
    ? ` (median local ${cpu(m.local)}, holder ${cpu(m.holder)}: ` +
      `${cpu(m.local! + m.holder! + (m.serve ?? 0))} CPU s in the shim's node processes)`
    : '';
  return (
    `${cores === 2 ? 'Both' : `All ${cores}`} cores were ${busy('ssh')} busy during the ssh runs and ${busy('shim')} during ` +
    `the shim runs (median machine CPU over ${cores} × median time), and the shim's runs took ` +
    `${extra.toFixed(1)} CPU s more of the machine${own}.`
  );
}

/** The last line of rsync's stderr that says why it stopped, for the plain ssh run. */
function lastError(run: CutRun): string | undefined {
  const lines = run.stderrTail.split('\n').filter((l) => l.trim() !== '');
  return lines[lines.length - 1]?.trim();
}

export const noFaultsPhase = definePhase<Flags, NoFaultResult>({
  name: 'no-faults',
  title: 'No faults: rsync through the shim against plain ssh, alternating',
  async measure(scope, { flags, log }) {
    const bw = await startBenchWorld(scope, { bytes: flags.size, log });
    log(`no faults: ${flags.rounds} rounds of rsync with ssh and with burrow shim, alternating`);
    const result = await measureNoFaults(scope, bw, { rounds: flags.rounds, log });
    return { result, targets: noFaultTargets(result) };
  },
  tables(r, rec) {
    const title = `rsync of ${sizeLabel(r.bytes)} to ${r.host}, ${r.rounds} runs per transport`;
    return [
      { title, headers: RUN_HEADERS, rows: runRows(r) },
      { headers: MEDIAN_HEADERS, rows: medianRows(r), notes: [cpuNote(r, rec.machine.cores)] },
    ];
  },
});

export const cutsPhase = definePhase<Flags, CutResult>({
  name: 'cuts',
  title: 'Cuts: rsync through a proxy that resets every connection at an interval',
  async measure(scope, { flags, log }) {
    const bw = await startBenchWorld(scope, { bytes: flags.size, log });
    const result = await measureCuts(scope, bw, {
      cutEveryMs: flags['cut-every'],
      plainSsh: !flags['no-plain-cut'],
      log,
    });
    return { result, targets: cutTargets(result, flags.size) };
  },
  tables(r) {
    const notes = cutRuns(r)
      .filter(({ run }) => run.cuts.length > 0)
      .map(
        ({ label, run }) =>
          `${label}: cuts at ${run.cuts.map((c) => `${c.atS.toFixed(1)} s`).join(', ')}.`,
      );
    const plain = r.plainSsh;
    if (plain) {
      const why = lastError(plain);
      notes.push(
        `Plain ssh ${plain.code === 0 ? 'completed' : `failed (${exitText(plain)})`} after ` +
          `${seconds(plain.seconds, 1)}${why ? `; rsync's last words: \`${why.replaceAll('`', "'")}\`` : ''}.`,
      );
    }
    const limit = r.bwlimitKiBps === undefined ? '' : `, --bwlimit=${r.bwlimitKiBps}`;
    return [
      {
        title: `cut every ${r.cutEveryMs / 1000} s, to ${r.host}${limit}`,
        headers: CUT_HEADERS,
        rows: cutRows(r),
        notes,
      },
    ];
  },
});
