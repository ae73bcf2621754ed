/**
 * The shim benchmark's results file format and the targets it is judged against. Pure: data in,
 * verdicts out.
 */

import type { BenchTarget } from '../lib/runner.js';
import { median } from '../lib/stats.js';
import type { CutResult, CutRun } from './cuts.js';
import type { NoFaultResult, RunSample } from './no-faults.js';
import type { Form } from './world.js';

type Target = BenchTarget;

/**
 * What `burrow shim` (its native byte path) is judged against, at each size: the wall-clock
 * overhead over plain ssh, and the CPU of its two processes (local side + holder) per GiB sent.
 */
export const TARGETS = { maxOverhead: 0.05, maxCpuPerGiB: 0.3 };

const GiB = 2 ** 30;

/** median(form's seconds) / median(ssh's seconds) − 1. */
export function formOverhead(r: Pick<NoFaultResult, 'forms'>, form: Form): number {
  const secondsOf = (f: Form) => {
    const s = r.forms.find((x) => x.form === f);
    if (!s) throw new Error(`no ${f} runs in this result`);
    return s.medianSeconds;
  };
  return secondsOf(form) / secondsOf('ssh') - 1;
}

/** CPU seconds of one shim run's local side and holder, summed; null when either left no record. */
export function runShimCpu(s: RunSample): number | null {
  const c = s.shimCpu;
  return c && typeof c.local === 'number' && typeof c.holder === 'number'
    ? c.local + c.holder
    : null;
}

/**
 * A shim form's CPU seconds per GiB: the median over its runs of (local + holder CPU s), divided
 * by the GiB each run sent. Runs where a process left no record are left out; null when none is
 * left (and for ssh, which has none).
 */
export function cpuPerGiB(r: Pick<NoFaultResult, 'samples' | 'bytes'>, form: Form): number | null {
  const sums = r.samples
    .filter((s) => s.form === form)
    .map(runShimCpu)
    .filter((v): v is number => v !== null);
  return sums.length === 0 ? null : median(sums) / (r.bytes / GiB);
}

/** CPU s/GiB as the tables show it: two decimals, or `–` when there is none. */
export function cpuPerGiBText(v: number | null): string {
  return v === null ? '–' : v.toFixed(2);
}

export function sizeLabel(bytes: number): string {
  if (bytes % 2 ** 30 === 0) return `${bytes / 2 ** 30} GiB`;
  if (bytes % 2 ** 20 === 0) return `${bytes / 2 ** 20} MiB`;
  return `${bytes} bytes`;
}

export function pct(ratio: number): string {
  return `${ratio >= 0 ? '+' : ''}${(ratio * 100).toFixed(1)}%`;
}

export function seconds(value: number, digits = 2): string {
  return `${value.toFixed(digits)} s`;
}

export function exitText(r: CutRun): string {
  if (r.timedOut) return 'timed out';
  return r.signal ? `signal ${r.signal}` : `exit ${r.code}`;
}

export function shaText(r: CutRun): string {
  if (r.sha256Match === null) return 'no copy';
  return r.sha256Match ? 'equal' : 'DIFFERENT';
}

/** Cuts that found a connection to reset (a cut while the shim reconnects resets nothing). */
export function effectiveCuts(r: CutRun): number {
  return r.cuts.filter((c) => c.connections > 0).length;
}

/** The targets of one size's fault-free runs; they judge `burrow shim` (the native path). */
export function noFaultTargets(noFaults: NoFaultResult): Target[] {
  const t: Target[] = [];
  const of = (form: string) => noFaults.forms.find((f) => f.form === form)!;
  const size = sizeLabel(noFaults.bytes);
  const overhead = formOverhead(noFaults, 'shim');
  t.push({
    id: `overhead-${noFaults.bytes}`,
    target: `rsync of ${size}, no faults: median(shim) / median(ssh) − 1 ≤ +${(TARGETS.maxOverhead * 100).toFixed(0)}%`,
    measured:
      `${pct(overhead)} (shim ${seconds(of('shim').medianSeconds)} vs ssh ` +
      `${seconds(of('ssh').medianSeconds)}, medians of ${noFaults.rounds} runs each)`,
    status: overhead <= TARGETS.maxOverhead ? 'PASS' : 'MISS',
  });
  const perGiB = cpuPerGiB(noFaults, 'shim');
  const runs = noFaults.samples.filter((s) => s.form === 'shim');
  const recorded = runs.filter((s) => runShimCpu(s) !== null).length;
  t.push({
    id: `cpu-per-gib-${noFaults.bytes}`,
    target: `rsync of ${size}, no faults: CPU s per GiB in burrow shim's processes (local + holder) ≤ ${TARGETS.maxCpuPerGiB}`,
    measured:
      perGiB === null
        ? `no CPU record from the shim's processes in ${runs.length} run(s)`
        : `${perGiB.toFixed(2)} CPU s/GiB (median of ${recorded} run(s))`,
    status: perGiB !== null && perGiB <= TARGETS.maxCpuPerGiB ? 'PASS' : 'MISS',
  });
  return t;
}

/** `bytes`: the file's size (the cut runs send the same file as the fault-free ones). */
export function cutTargets(cuts: CutResult, bytes: number): Target[] {
  const t: Target[] = [];
  const size = sizeLabel(bytes);
  const s = cuts.shim;
  const cut = effectiveCuts(s);
  const ok = s.code === 0 && s.sha256Match === true && cut > 0;
  t.push({
    id: 'cut-survives',
    target: `rsync of ${size} through burrow shim, connection cut every ${cuts.cutEveryMs / 1000} s: exit 0, identical bytes`,
    measured:
      `${exitText(s)} after ${seconds(s.seconds, 1)}, ${cut} cut(s) reset the connection, ` +
      `${s.reconnectLines} reconnect line(s), sha256 ${shaText(s)}` +
      (cut === 0 ? ' (no cut happened during the transfer: use a larger --size)' : ''),
    status: ok ? 'PASS' : 'MISS',
  });
  return t;
}
