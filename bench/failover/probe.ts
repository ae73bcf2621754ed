/**
 * The operator's side of every failover measurement: `ssh … true` run again and again from the
 * moment of the fault until one exits 0, and the agent's own log read for when it noticed and
 * when it registered elsewhere.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Fleet, FleetRelay } from '../../test/helpers/fleet.js';
import type { Proc, RunResult } from '../../test/helpers/index.js';
import { max, median, min, percentile } from '../lib/stats.js';

/** Bounds of one operator attempt: ssh's own ConnectTimeout, and a hard kill after this long. */
export const ATTEMPT = { connectTimeoutSec: 2, timeoutMs: 8000, pauseMs: 50 } as const;

/** One operator attempt through burrow: `ssh -J <relay> dev1 true`, bounded like every attempt. */
export function reachThroughRelay(fleet: Fleet, relay: FleetRelay): Promise<RunResult> {
  return fleet.op.run(
    ['-o', `ConnectTimeout=${ATTEMPT.connectTimeoutSec}`, '-J', relay.alias, 'dev1', 'true'],
    { timeoutMs: ATTEMPT.timeoutMs },
  );
}

export interface ReachOutcome {
  /** ms from the fault to the exit of the first `ssh … true` that exited 0; null when capped. */
  ms: number | null;
  /** Attempts made, the successful one included. */
  attempts: number;
  /** Distinct stderr of the failed attempts (at most 3, lines joined by ` | `), for diagnosis. */
  errors: string[];
}

/**
 * Runs `attempt` until it exits 0 or `capMs` has passed since `since` (a performance.now()
 * taken at the fault), pausing ATTEMPT.pauseMs after each failure. Bounded: at most one attempt
 * starts after the cap, and each attempt is bounded by its own timeout.
 */
export async function pollUntilReachable(
  attempt: () => Promise<RunResult>,
  since: number,
  capMs: number,
): Promise<ReachOutcome> {
  const errors: string[] = [];
  let attempts = 0;
  while (performance.now() - since < capMs) {
    attempts++;
    const r = await attempt();
    const at = performance.now();
    if (r.code === 0) return { ms: at - since, attempts, errors };
    const line = oneLine(r.timedOut ? 'timed out' : r.stderr) || `exit ${r.code}`;
    if (errors.length < 3 && !errors.includes(line)) errors.push(line);
    await sleep(ATTEMPT.pauseMs);
  }
  return { ms: null, attempts, errors };
}

function oneLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.join(' | ').slice(0, 240);
}

/**
 * The epoch-ms `time` of the first JSON log line of `proc` on stderr from line index `from` on
 * that matches `re`, waiting up to `timeoutMs` for it; undefined if none came.
 */
export async function logTime(
  proc: Proc,
  re: RegExp,
  from: number,
  timeoutMs = 2000,
): Promise<number | undefined> {
  try {
    const r = await proc.waitForLineOrExit(re, { stream: 'stderr', from, timeoutMs });
    if (!r.match) return undefined;
    const time = (JSON.parse(r.match.input ?? '') as { time?: unknown }).time;
    return typeof time === 'number' ? time : undefined;
  } catch {
    return undefined;
  }
}

export interface SeriesStats {
  count: number;
  /** Samples that did not recover within the cap (counted at the cap in the statistics). */
  capped: number;
  capMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  minMs: number;
  maxMs: number;
}

/** Order statistics of `outcomes`; a capped sample counts as `capMs` (a lower bound). */
export function seriesStats(
  outcomes: readonly { ms: number | null }[],
  capMs: number,
): SeriesStats {
  const v = outcomes.map((o) => o.ms ?? capMs);
  if (v.length === 0) {
    return { count: 0, capped: 0, capMs, p50Ms: 0, p90Ms: 0, p99Ms: 0, minMs: 0, maxMs: 0 };
  }
  return {
    count: v.length,
    capped: outcomes.filter((o) => o.ms === null).length,
    capMs,
    p50Ms: median(v),
    p90Ms: percentile(v, 90),
    p99Ms: percentile(v, 99),
    minMs: min(v),
    maxMs: max(v),
  };
}

/** Milliseconds rounded to 1 decimal, for the results file. */
export function ms1(x: number): number {
  return Math.round(x * 10) / 10;
}
