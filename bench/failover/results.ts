/**
 * The failover benchmark's targets and the figures its tables share. Pure: data in, verdicts out.
 */

import { type BenchTarget, status } from '../lib/runner.js';
import type { DrainResult } from './drain.js';
import type { ProcessDeathResult } from './process-death.js';
import type { SilentLossResult } from './silent-loss.js';

export const TARGETS = { processDeathP99Ms: 1000, silentLossMaxMs: 12_000, drainFailed: 0 };

/** Seconds with `digits` decimals, e.g. `0.62 s`. */
export function secs(ms: number | null, digits = 2): string {
  return ms === null ? '—' : `${(ms / 1000).toFixed(digits)} s`;
}

export function processDeathTargets(death: ProcessDeathResult): BenchTarget[] {
  const b = death.burrow.stats;
  const r = death.recipe.stats;
  return [
    {
      id: 'process-death-p99',
      target: `process death: p99 ≤ ${secs(TARGETS.processDeathP99Ms, 0)} until ssh -J works`,
      measured:
        `p99 ${secs(b.p99Ms)} over ${b.count} kills${b.capped ? ` (${b.capped} capped)` : ''} ` +
        `(recipe: ${secs(r.p99Ms)})`,
      status: status(b.capped === 0 && b.p99Ms <= TARGETS.processDeathP99Ms),
    },
  ];
}

export function silentLossTargets(loss: SilentLossResult): BenchTarget[] {
  const b = loss.burrow.stats;
  return [
    {
      id: 'silent-loss-max',
      target: `silent loss: ≤ ${secs(TARGETS.silentLossMaxMs, 0)} (every sample)`,
      measured:
        `max ${secs(b.maxMs, 1)} over ${b.count} samples${b.capped ? ` (${b.capped} capped)` : ''} ` +
        `(recipe: max ${secs(loss.recipe.stats.maxMs, 1)})`,
      status: status(b.capped === 0 && b.maxMs <= TARGETS.silentLossMaxMs),
    },
  ];
}

export function drainTargets(drain: DrainResult): BenchTarget[] {
  return [
    {
      id: 'drain-failures',
      target: 'drain: zero failed connections',
      measured: `${drain.failed} failed of ${drain.connections} over ${drain.drains} drains`,
      status: status(drain.failed <= TARGETS.drainFailed),
    },
  ];
}
