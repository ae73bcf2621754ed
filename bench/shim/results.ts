/**
 * The shim benchmark's results file format and the targets it is judged against. Pure: data in,
 * verdicts out.
 */

import type { BenchTarget } from '../lib/runner.js';
import type { CutResult, CutRun } from './cuts.js';
import type { NoFaultResult } from './no-faults.js';

type Target = BenchTarget;

export const TARGETS = { maxOverhead: 0.1 };

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

export function noFaultTargets(noFaults: NoFaultResult): Target[] {
  const t: Target[] = [];
  const of = (form: string) => noFaults.forms.find((f) => f.form === form)!;
  const size = sizeLabel(noFaults.bytes);
  t.push({
    id: 'overhead',
    target: `rsync of ${size}, no faults: median(shim) / median(ssh) − 1 ≤ ${(TARGETS.maxOverhead * 100).toFixed(0)}%`,
    measured:
      `${pct(noFaults.overhead)} (shim ${seconds(of('shim').medianSeconds)} vs ssh ` +
      `${seconds(of('ssh').medianSeconds)}, medians of ${noFaults.rounds} runs each)`,
    status: noFaults.overhead <= TARGETS.maxOverhead ? 'PASS' : 'MISS',
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
