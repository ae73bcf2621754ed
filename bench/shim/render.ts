/**
 * The shim benchmark's section of BENCHMARKS.md and its terminal summary. Pure: data in, text
 * out.
 */
import { type Cell, mdTable, measuredLines, targetRows, textTable } from '../lib/report.js';
import type { CutRun } from './cuts.js';
import {
  effectiveCuts,
  exitText,
  pct,
  type ShimResults,
  seconds,
  shaText,
  sizeLabel,
} from './results.js';
import { FORM_LABELS } from './world.js';

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

export function runRows(r: ShimResults): Cell[][] {
  return r.noFaults.samples.map((s) => [
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

export function medianRows(r: ShimResults): Cell[][] {
  const ssh = r.noFaults.forms.find((f) => f.form === 'ssh')!;
  return r.noFaults.forms.map((f) => [
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

function cutRuns(r: ShimResults): { label: string; run: CutRun }[] {
  const every = `${r.cuts.cutEveryMs / 1000} s`;
  const runs = [
    { label: 'burrow shim, no cuts (reference)', run: r.cuts.reference },
    { label: `burrow shim, cut every ${every}`, run: r.cuts.shim },
  ];
  if (r.cuts.plainSsh) runs.push({ label: `plain ssh, cut every ${every}`, run: r.cuts.plainSsh });
  return runs;
}

export function cutRows(r: ShimResults): Cell[][] {
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
export function cpuNote(r: ShimResults): string {
  const cores = r.machine.cores;
  const of = (form: string) => r.noFaults.forms.find((f) => f.form === form)!;
  const busy = (form: string) =>
    `${((of(form).medianMachineCpuSeconds / (cores * of(form).medianSeconds)) * 100).toFixed(0)}%`;
  const extra = of('shim').medianMachineCpuSeconds - of('ssh').medianMachineCpuSeconds;
  const m = r.noFaults.shimCpuMedian;
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

export function renderSummary(r: ShimResults): string {
  const out: string[] = [];
  out.push(textTable(['target', 'measured', 'result'], targetRows(r.targets, false)));
  out.push('');
  out.push(textTable(RUN_HEADERS, runRows(r)));
  out.push('');
  out.push(textTable(MEDIAN_HEADERS, medianRows(r)));
  out.push('');
  out.push(cpuNote(r));
  out.push('');
  out.push(textTable(CUT_HEADERS, cutRows(r)));
  const plain = r.cuts.plainSsh;
  if (plain) out.push(`plain ssh under cuts ended with: ${lastError(plain) ?? '(no message)'}`);
  return out.join('\n');
}

export function renderMarkdown(r: ShimResults): string {
  const out: string[] = [];
  const size = sizeLabel(r.noFaults.bytes);
  const minutes = Math.max(1, Math.ceil((r.durationS + 15) / 60));
  out.push('## shim: rsync through `burrow shim` against plain ssh, and across cut connections');
  out.push('');
  out.push(
    `Reproduce with \`npm run bench -- shim\` (builds first; about ${minutes} minute` +
      `${minutes === 1 ? '' : 's'} on this machine). Flags: \`--size 1G\` (the file; K/M/G ` +
      'suffixes), `--rounds N` (fault-free runs per transport, default 3; at least 3 for a ' +
      'recorded result), `--cut-every 10s`, `--no-plain-cut` (skip plain ssh under cuts), ' +
      '`--profile` (where the shim spends its CPU, and raw stream throughput; writes nothing), ' +
      '`--floor` (the same rsync with a bare Node pipe, read and write only, in each of the two ' +
      'places the shim runs a Node process, once on the event loop and once with blocking reads ' +
      'and writes: what relaying the bytes through Node costs here either way; writes nothing), ' +
      '`--no-write`.',
  );
  out.push('');
  out.push(...measuredLines(r));
  out.push('');
  out.push(`### No faults: rsync of ${size}, ${r.noFaults.rounds} runs per transport, alternating`);
  out.push('');
  out.push(
    `\`rsync --no-compress -e T SRC ${r.noFaults.host}:DST\`, where T is the operator's ssh (the ` +
      'baseline) or `burrow shim` using that same ssh, through the same relay to the same device ' +
      'sshd; the destination is deleted before each run, so every run sends the whole file. ' +
      "Time: spawn to rsync's exit. CPU of the shim's two node processes as each recorded it " +
      'at exit (the local `burrow shim`, and on the device the holder: the `burrow shim --serve` ' +
      'the connection started, which holds the session, runs `rsync --server` and reads and ' +
      'writes the ssh channel); machine CPU: ' +
      'what both cores spent busy during the run, every process included (the machine is ' +
      'shared, so others may add to it).',
  );
  out.push('');
  out.push(mdTable(RUN_HEADERS, runRows(r)));
  out.push('');
  out.push(mdTable(MEDIAN_HEADERS, medianRows(r)));
  out.push('');
  out.push(cpuNote(r));
  out.push('');
  out.push(`### Cut every ${r.cuts.cutEveryMs / 1000} s: rsync of ${size} through a cutting proxy`);
  const limit = r.cuts.bwlimitKiBps === undefined ? '' : ` --bwlimit=${r.cuts.bwlimitKiBps}`;
  out.push('');
  out.push(
    `\`rsync --no-compress${limit} -e T SRC ${r.cuts.host}:DST\`, where the operator's ssh reaches ` +
      'the relay through a TCP proxy that resets every connection through it (RST to both ends) every ' +
      `${r.cuts.cutEveryMs / 1000} s from the start of the run. _Cuts_ counts the resets while ` +
      'rsync ran, in brackets those that found a connection to reset (one that lands while the ' +
      'shim is reconnecting resets nothing); _ssh connections_ the proxy accepted; _reconnect ' +
      "lines_ the shim's `connection lost; reconnecting` notices on rsync's stderr; _CPU_ as in " +
      'the fault-free runs, with --serve summed over the resumed connections (each asks the ' +
      'holder to adopt its pipes, then only waits). ' +
      'The reference run takes the same path without cuts.' +
      (r.cuts.bwlimitKiBps === undefined
        ? ''
        : ' All three run at that --bwlimit, so that each lasts about two and a half cut ' +
          'intervals whatever the speed of the machine (a run over before the first cut would ' +
          'prove nothing).'),
  );
  out.push('');
  out.push(mdTable(CUT_HEADERS, cutRows(r)));
  out.push('');
  for (const { label, run } of cutRuns(r)) {
    if (run.cuts.length === 0) continue;
    out.push(`- ${label}: cuts at ${run.cuts.map((c) => `${c.atS.toFixed(1)} s`).join(', ')}.`);
  }
  const plain = r.cuts.plainSsh;
  if (plain) {
    const why = lastError(plain);
    out.push(
      `- Plain ssh ${plain.code === 0 ? 'completed' : `failed (${exitText(plain)})`} after ` +
        `${seconds(plain.seconds, 1)}${why ? `; rsync's last words: \`${why.replaceAll('`', "'")}\`` : ''}.`,
    );
  }
  out.push('');
  out.push('### How it is measured, and choices made');
  out.push('');
  out.push(METHOD_NOTES);
  return out.join('\n');
}

const METHOD_NOTES = `- Everything runs on this machine over 127.0.0.1: one \`burrow relay\`, the device's sshd (as
  root, a config in a temp dir) registered by \`burrow agent\`, and the operator's ssh config, in
  which the device is reached with \`ProxyCommand ssh -W dev1:22 <relay>\` (so each transfer is
  two ssh connections, the outer one to the relay). The shim runs as it would for a user: the
  local \`burrow shim\` starts that same ssh with \`burrow shim --serve\` as the remote command,
  which for a new session becomes its holder: it runs \`rsync --server\` and reads and writes the
  ssh channel (its own stdin and stdout) directly; all of them are this checkout's
  \`dist/\` on the Node that runs the bench.
- The fault-free runs use a route straight to the relay; the cut runs go through the proxy, which
  runs inside the bench's own Node process (slower than the direct route: compare the reference
  run, not the fault-free ones, with the cut run).
- The transports take turns within each round (order rotated each round), so a busy moment of
  this shared 2-core machine slows both alike; one small transfer per transport first is not
  timed. Every copy is checked against the source's sha256 (the check is not timed).
- The source is one random MiB repeated, each copy stamped with its index: nothing compresses and
  no two MiB match, and with the destination deleted rsync has no basis file, so both transports
  carry the whole file.
- The shim's node processes run with \`NODE_OPTIONS=--require=<a preload>\` whose \`exit\` listener
  writes \`process.cpuUsage()\`; otherwise they are started exactly as \`test/helpers/shim.ts\`
  starts them for the tests.`;
