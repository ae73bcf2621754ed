/**
 * The phases of `npm run bench -- shim` (no faults, cuts) and their tables. The measurements are
 * in no-faults.ts and cuts.ts; the method is bench/shim.md.
 */
import { definePhase, type FlagSpecs } from '../lib/runner.js';
import type { Cell } from '../lib/table.js';
import { type CutResult, type CutRun, measureCuts } from './cuts.js';
import { measureNoFaults, type NoFaultResult } from './no-faults.js';
import {
  cpuPerGiB,
  cpuPerGiBText,
  cutTargets,
  effectiveCuts,
  exitText,
  formOverhead,
  noFaultTargets,
  pct,
  seconds,
  shaText,
  sizeLabel,
} from './results.js';
import {
  FORM_LABELS,
  FORMS,
  FORMS_WITH_JAVASCRIPT,
  type Form,
  startBenchWorld,
  withSource,
} from './world.js';

/** Fewest fault-free runs per transport for a result that is written down. */
export const MIN_RECORDED_ROUNDS = 3;

export const SHIM_FLAGS = {
  size: {
    type: 'sizes',
    default: '1G',
    metavar: 'LIST',
    help: 'the file rsync sends, K/M/G suffixes; a comma list (1G,512M) measures each size in turn (cuts: the first)',
  },
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
  'no-javascript': {
    type: 'boolean',
    help: "leave out the fault-free runs of burrow shim on JavaScript's byte path",
  },
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

export const MEDIAN_HEADERS = [
  'transport',
  'median time',
  'median MiB/s',
  'median machine CPU s',
  'vs ssh',
  'shim CPU s/GiB (local + holder)',
];

/** One row per transport; the shim forms with their overhead over ssh and CPU per GiB. */
export function medianRows(r: NoFaultResult): Cell[][] {
  return r.forms.map((f) => [
    FORM_LABELS[f.form],
    seconds(f.medianSeconds),
    f.medianMiBps.toFixed(0),
    f.medianMachineCpuSeconds.toFixed(1),
    f.form === 'ssh' ? '–' : pct(formOverhead(r, f.form)),
    f.form === 'ssh' ? '–' : cpuPerGiBText(cpuPerGiB(r, f.form)),
  ]);
}

/** One line per shim form of a size's result: its overhead over ssh and its CPU per GiB. */
export function summaryLine(r: NoFaultResult): string {
  const forms = r.forms
    .filter((f) => f.form !== 'ssh')
    .map(
      (f) =>
        `${FORM_LABELS[f.form]} ${pct(formOverhead(r, f.form))} vs ssh, ` +
        `${cpuPerGiBText(cpuPerGiB(r, f.form))} CPU s/GiB (local + holder)`,
    );
  return `${sizeLabel(r.bytes)}: ${forms.join('; ')}`;
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
 * Whether the machine was CPU-bound, and how much of each shim form's extra time its CPU
 * explains: computed from the medians, so it stays true for whatever a run measured.
 */
export function cpuNotes(r: NoFaultResult, cores: number): string[] {
  const of = (form: Form) => r.forms.find((f) => f.form === form)!;
  const busy = (form: Form) =>
    `${((of(form).medianMachineCpuSeconds / (cores * of(form).medianSeconds)) * 100).toFixed(0)}%`;
  const all = cores === 2 ? 'Both' : `All ${cores}`;
  const notes = [
    `${all} cores were ${busy('ssh')} busy during the ssh runs (median machine CPU over ` +
      `${cores} × median time).`,
  ];
  for (const f of r.forms) {
    if (f.form === 'ssh') continue;
    const extra = f.medianMachineCpuSeconds - of('ssh').medianMachineCpuSeconds;
    const m = rolesMedian(r, f.form);
    const own =
      m.local !== null && m.holder !== null
        ? `; median CPU s of its node processes: local ${cpu(m.local)}, holder ${cpu(m.holder)}`
        : '';
    const more = `${Math.abs(extra).toFixed(1)} CPU s ${extra < 0 ? 'less' : 'more'}`;
    notes.push(
      `${FORM_LABELS[f.form]}: the cores were ${busy(f.form)} busy and its runs took ` +
        `${more} of the machine than ssh's${own}; ` +
        `${cpuPerGiBText(cpuPerGiB(r, f.form))} CPU s/GiB (local + holder, median over the runs).`,
    );
  }
  return notes;
}

/** Median CPU s per role of one shim form's runs (stored for `shim` alone in older results). */
function rolesMedian(r: NoFaultResult, form: Form) {
  const stored = r.forms.find((f) => f.form === form)?.shimCpuMedian;
  if (stored) return stored;
  return form === 'shim' ? r.shimCpuMedian : { local: null, serve: null, holder: null };
}

/** The last line of rsync's stderr that says why it stopped, for the plain ssh run. */
function lastError(run: CutRun): string | undefined {
  const lines = run.stderrTail.split('\n').filter((l) => l.trim() !== '');
  return lines[lines.length - 1]?.trim();
}

/** One result per size, in --size order (a record written before sizes were listed: one). */
type NoFaultResults = NoFaultResult[] | NoFaultResult;

export const noFaultsPhase = definePhase<Flags, NoFaultResults>({
  name: 'no-faults',
  title: 'No faults: rsync through the shim against plain ssh, alternating',
  async measure(scope, { flags, log }) {
    const forms = flags['no-javascript'] ? FORMS : FORMS_WITH_JAVASCRIPT;
    const names = forms.map((f) => FORM_LABELS[f]).join(', ');
    let bw = await startBenchWorld(scope, { bytes: flags.size[0]!, log });
    const results: NoFaultResult[] = [];
    for (const bytes of flags.size) {
      bw = await withSource(bw, bytes, log);
      log(
        `no faults, ${sizeLabel(bytes)}: ${flags.rounds} rounds of rsync with ${names}, alternating`,
      );
      const result = await measureNoFaults(scope, bw, { rounds: flags.rounds, forms, log });
      log(`no faults, ${summaryLine(result)}`);
      results.push(result);
    }
    return { result: results, targets: results.flatMap(noFaultTargets) };
  },
  tables(stored, rec) {
    return (Array.isArray(stored) ? stored : [stored]).flatMap((r) => [
      {
        title: `rsync of ${sizeLabel(r.bytes)} to ${r.host}, ${r.rounds} runs per transport`,
        headers: RUN_HEADERS,
        rows: runRows(r),
      },
      {
        headers: MEDIAN_HEADERS,
        rows: medianRows(r),
        notes: cpuNotes(r, rec.machine.cores),
      },
    ]);
  },
});

export const cutsPhase = definePhase<Flags, CutResult>({
  name: 'cuts',
  title: 'Cuts: rsync through a proxy that resets every connection at an interval',
  async measure(scope, { flags, log }) {
    const bytes = flags.size[0]!;
    const bw = await startBenchWorld(scope, { bytes, log });
    const result = await measureCuts(scope, bw, {
      cutEveryMs: flags['cut-every'],
      plainSsh: !flags['no-plain-cut'],
      log,
    });
    return { result, targets: cutTargets(result, bytes) };
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
