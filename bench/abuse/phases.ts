/**
 * The flags every phase of the `abuse` benchmark reads, declared once for the runner (which
 * parses them and lists them in --help).
 */
import type { FlagSpecs, FlagValues, MeasureOpts } from '../lib/runner.js';

export const ABUSE_FLAGS = {
  duration: { type: 'count', default: 30, help: 'seconds of each attack window' },
  'quiet-runs': {
    type: 'count',
    default: 20,
    help: 'quiet ssh … true runs for the baseline latency',
  },
  'reopen-delay': {
    type: 'count',
    default: 500,
    min: 0,
    help: 'flood: ms before a closed slot reconnects',
  },
} as const satisfies FlagSpecs;

export type AbuseFlags = typeof ABUSE_FLAGS;
export type AbuseOpts = MeasureOpts<AbuseFlags>;
export type AbuseFlagValues = FlagValues<AbuseFlags>;
