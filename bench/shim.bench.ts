/**
 * `npm run bench -- shim [flags]`: rsync through `burrow shim` against plain ssh, with no faults
 * and across connections cut at an interval. Method: bench/shim.md; the investigations of where
 * its time goes are in bench/experiments/.
 */

import { BenchUsageError } from './lib/report.js';
import { defineBench, runBench } from './lib/runner.js';
import { cutsPhase, MIN_RECORDED_ROUNDS, noFaultsPhase, SHIM_FLAGS } from './shim/phases.js';

runBench(
  defineBench({
    name: 'shim',
    title: 'shim: rsync through `burrow shim` against plain ssh, and across cut connections',
    after: 'otssh',
    flags: SHIM_FLAGS,
    phases: [noFaultsPhase, cutsPhase],
    moved: {
      profile: 'npm run bench -- experiments/shim-profile',
      floor: 'npm run bench -- experiments/shim-floor',
    },
    epilogue: 'About 3 minutes with the defaults on a 2-core machine.',
    check(flags, run) {
      if (!run.noWrite && run.phases.includes('no-faults') && flags.rounds < MIN_RECORDED_ROUNDS) {
        throw new BenchUsageError(
          `--rounds: a recorded result needs at least ${MIN_RECORDED_ROUNDS}; add --no-write for a trial run`,
        );
      }
    },
  }),
);
