/**
 * `npm run bench -- otssh [flags]`: the single executable dist/bin/otssh (a Node SEA with a V8
 * code cache): how long from spawn until it runs its announce command, against the same sources
 * run by `node`; its peak RSS over a start plus one real OpenSSH session (exec and pty); the
 * sizes of dist/bin/otssh and dist/bin/burrow. Builds the binaries first when they are older
 * than the sources. Method: bench/otssh.md.
 */

import { BenchUsageError } from './lib/report.js';
import { defineBench, runBench } from './lib/runner.js';
import {
  MIN_RECORDED_ROUNDS,
  MIN_RECORDED_STARTS,
  memoryPhase,
  OTSSH_FLAGS,
  sizesPhase,
  startupPhase,
} from './otssh/phases.js';

runBench(
  defineBench({
    name: 'otssh',
    title: 'otssh: start-up and peak memory of the single executable `dist/bin/otssh`',
    after: 'failover',
    flags: OTSSH_FLAGS,
    phases: [startupPhase, memoryPhase, sizesPhase],
    epilogue:
      'About a minute with the defaults (plus a rebuild of the binaries when the sources changed).',
    check(flags, run) {
      if (run.noWrite) return;
      if (run.phases.includes('startup') && flags.starts < MIN_RECORDED_STARTS) {
        throw new BenchUsageError(
          `--starts: a recorded result needs at least ${MIN_RECORDED_STARTS}; add --no-write for a trial run`,
        );
      }
      if (run.phases.includes('memory') && flags.rounds < MIN_RECORDED_ROUNDS) {
        throw new BenchUsageError(
          `--rounds: a recorded result needs at least ${MIN_RECORDED_ROUNDS}; add --no-write for a trial run`,
        );
      }
    },
  }),
);
