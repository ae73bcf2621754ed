/**
 * The shape every phase of the `abuse` benchmark has, so the runner (abuse.bench.ts) can list
 * them in one table: a phase measures burrow and its OpenSSH baseline in one run and returns
 * its result and targets; `render` turns a stored record back into its BENCHMARKS.md lines and
 * terminal summary, so phases not run this time keep their previous section.
 */
import type { Scope } from '../../test/helpers/index.js';
import type { MachineInfo } from '../lib/machine.js';
import type { BenchTarget } from '../lib/report.js';

export type Status = 'PASS' | 'MISS';

export interface AbuseFlags {
  /** Seconds each timed attack window lasts (the flood, the legitimate ssh loop under it). */
  readonly durationS: number;
  /** Quiet `ssh … true` runs for the baseline latency. */
  readonly quietRuns: number;
  /** ms a flood slot waits before reopening a closed connection. */
  readonly reopenDelayMs: number;
}

export interface PhaseContext {
  readonly scope: Scope;
  readonly flags: AbuseFlags;
  readonly log: (msg: string) => void;
}

export interface PhaseOutput<R> {
  readonly result: R;
  readonly targets: BenchTarget<Status>[];
}

export interface PhaseRecord<R = unknown> extends PhaseOutput<R> {
  readonly date: string;
  readonly command: string;
  readonly machine: MachineInfo;
  readonly durationS: number;
}

export interface AbusePhase<R = unknown> {
  /** What `--phases` calls it. */
  readonly name: string;
  run(ctx: PhaseContext): Promise<PhaseOutput<R>>;
  /** BENCHMARKS.md lines for a stored record (without the targets table; the runner adds it). */
  markdown(record: PhaseRecord<R>): string[];
  /** Terminal lines for a record. */
  summary(record: PhaseRecord<R>): string[];
}

export interface AbuseResults {
  benchmark: 'abuse';
  updated: string;
  phases: Record<string, PhaseRecord>;
}
