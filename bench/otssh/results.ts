/**
 * The otssh benchmark's results file format and the targets it is judged against. Pure: data in,
 * verdicts out.
 */

import type { BenchTarget } from '../lib/runner.js';
import { max, median, min, percentile } from '../lib/stats.js';
import type { MemoryResult, SessionKind } from './memory.js';
import type { StartupResult } from './startup.js';

export interface SeriesStats {
  count: number;
  p50Ms: number;
  p90Ms: number;
  maxMs: number;
  minMs: number;
}

export function seriesStats(values: readonly number[]): SeriesStats {
  return {
    count: values.length,
    p50Ms: median(values),
    p90Ms: percentile(values, 90),
    maxMs: max(values),
    minMs: min(values),
  };
}

export interface FileSize {
  path: string;
  bytes: number;
  note?: string;
}

type Target = BenchTarget;

export const TARGETS = { startupP50Ms: 300, peakMiB: 80 };

export function ms(value: number, digits = 0): string {
  return `${value.toFixed(digits)} ms`;
}

export function mib(kib: number, digits = 1): string {
  return `${(kib / 1024).toFixed(digits)} MiB`;
}

/** The peak of one sample: the larger of the polled VmHWM and GNU time's ru_maxrss. */
export function peakKiB(s: { hwmKiB: number; maxRssKiB: number | null }): number {
  return Math.max(s.hwmKiB, s.maxRssKiB ?? 0);
}

/** Peaks of one session kind, in KiB. */
export function peaks(m: MemoryResult, session: SessionKind): number[] {
  return m.samples.filter((s) => s.session === session).map(peakKiB);
}

export function startupTargets(startup: StartupResult): Target[] {
  const t: Target[] = [];
  const bin = startup.series.find((s) => s.kind === 'binary');
  if (!bin) throw new Error('no start-up series of the binary');
  t.push({
    id: 'startup-p50',
    target: `start-up: p50 ≤ ${ms(TARGETS.startupP50Ms)} from spawn to the announce command (raw)`,
    measured:
      `p50 ${ms(bin.raw.p50Ms)}, p90 ${ms(bin.raw.p90Ms)}, max ${ms(bin.raw.maxMs)} over ` +
      `${bin.raw.count} starts (hook-corrected p50 ${ms(bin.corrected.p50Ms)})`,
    status: bin.raw.p50Ms <= TARGETS.startupP50Ms ? 'PASS' : 'MISS',
  });
  const failures = startup.series.reduce((n, s) => n + s.sigtermFailures, 0);
  const starts = startup.series.reduce((n, s) => n + s.samples.length, 0);
  t.push({
    id: 'sigterm-exit',
    target: 'every start exits on SIGTERM (within 3 s)',
    measured: `${starts - failures} of ${starts} exited`,
    status: failures === 0 ? 'PASS' : 'MISS',
  });
  return t;
}

export function memoryTargets(memory: MemoryResult): Target[] {
  const t: Target[] = [];
  const all = memory.samples.map(peakKiB);
  const exec = peaks(memory, 'exec');
  const pty = peaks(memory, 'pty');
  t.push({
    id: 'peak-rss',
    target: `peak memory: ≤ ${TARGETS.peakMiB} MiB RSS over a start plus one session (every round)`,
    measured:
      `max ${mib(max(all))} (exec ${mib(max(exec))}, pty ${mib(max(pty))}) over ` +
      `${memory.rounds} rounds of each`,
    status: max(all) <= TARGETS.peakMiB * 1024 ? 'PASS' : 'MISS',
  });
  return t;
}
