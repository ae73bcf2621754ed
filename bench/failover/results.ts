/**
 * The failover benchmark's results file format and the targets it is judged against. Pure: data
 * in, verdicts out.
 */

import type { MachineInfo } from '../lib/machine.js';
import type { BenchTarget } from '../lib/report.js';
import type { DrainResult } from './drain.js';
import type { ProcessDeathResult } from './process-death.js';
import type { SilentLossResult } from './silent-loss.js';

export const PHASES = ['process-death', 'silent-loss', 'drain'] as const;
export type Phase = (typeof PHASES)[number];

export interface PhaseRecord<T> {
  date: string;
  command: string;
  machine: MachineInfo;
  durationS: number;
  result: T;
}

export interface FailoverPhases {
  'process-death'?: PhaseRecord<ProcessDeathResult>;
  'silent-loss'?: PhaseRecord<SilentLossResult>;
  drain?: PhaseRecord<DrainResult>;
}

export type Status = 'PASS' | 'MISS' | 'not measured';

export type Target = BenchTarget<Status>;

export interface FailoverResults {
  benchmark: 'failover';
  updated: string;
  targets: Target[];
  phases: FailoverPhases;
}

export const TARGETS = { processDeathP99Ms: 1000, silentLossMaxMs: 12_000, drainFailed: 0 };

/** Seconds with `digits` decimals, e.g. `0.62 s`. */
export function secs(ms: number | null, digits = 2): string {
  return ms === null ? '—' : `${(ms / 1000).toFixed(digits)} s`;
}

export function evaluateTargets(p: FailoverPhases): Target[] {
  const t: Target[] = [];
  const death = p['process-death']?.result;
  const deathTarget = `process death: p99 ≤ ${secs(TARGETS.processDeathP99Ms, 0)} until ssh -J works`;
  if (death) {
    const b = death.burrow.stats;
    const r = death.recipe.stats;
    t.push({
      id: 'process-death-p99',
      target: deathTarget,
      measured:
        `p99 ${secs(b.p99Ms)} over ${b.count} kills${b.capped ? ` (${b.capped} capped)` : ''} ` +
        `(recipe: ${secs(r.p99Ms)})`,
      status: b.capped === 0 && b.p99Ms <= TARGETS.processDeathP99Ms ? 'PASS' : 'MISS',
    });
  } else t.push(notMeasured('process-death-p99', deathTarget));
  const loss = p['silent-loss']?.result;
  const lossTarget = `silent loss: ≤ ${secs(TARGETS.silentLossMaxMs, 0)} (every sample)`;
  if (loss) {
    const b = loss.burrow.stats;
    t.push({
      id: 'silent-loss-max',
      target: lossTarget,
      measured:
        `max ${secs(b.maxMs, 1)} over ${b.count} samples${b.capped ? ` (${b.capped} capped)` : ''} ` +
        `(recipe: max ${secs(loss.recipe.stats.maxMs, 1)})`,
      status: b.capped === 0 && b.maxMs <= TARGETS.silentLossMaxMs ? 'PASS' : 'MISS',
    });
  } else t.push(notMeasured('silent-loss-max', lossTarget));
  const drain = p.drain?.result;
  const drainTarget = 'drain: zero failed connections';
  if (drain) {
    t.push({
      id: 'drain-failures',
      target: drainTarget,
      measured: `${drain.failed} failed of ${drain.connections} over ${drain.drains} drains`,
      status: drain.failed <= TARGETS.drainFailed ? 'PASS' : 'MISS',
    });
  } else t.push(notMeasured('drain-failures', drainTarget));
  return t;
}

function notMeasured(id: string, target: string): Target {
  return { id, target, measured: '—', status: 'not measured' };
}
