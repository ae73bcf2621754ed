/**
 * `npm run bench -- failover [flags]`: `burrow agent` against autossh under a restarting
 * supervisor (the OpenSSH recipe) when the relay in use dies (kill -9), goes silent (blackholed)
 * or drains (SIGTERM, burrow only). Method: bench/failover.md.
 */

import {
  DRAINS,
  drainPhase,
  FAILOVER_FLAGS,
  LOSS_SAMPLES,
  MIN_RECORDED_KILLS,
  processDeathPhase,
  silentLossPhase,
} from './failover/phases.js';
import { BenchUsageError } from './lib/report.js';
import { defineBench, runBench } from './lib/runner.js';

runBench(
  defineBench({
    name: 'failover',
    title: 'failover: `burrow agent` vs autossh + systemd (`Restart=always`, `RestartSec=5`)',
    after: 'relay',
    flags: FAILOVER_FLAGS,
    phases: [processDeathPhase, silentLossPhase, drainPhase],
    epilogue:
      `Silent loss takes ${LOSS_SAMPLES} samples per system, drain ${DRAINS} drains. About 7 minutes ` +
      'with the defaults, most of it the recipe waiting out ServerAliveInterval and its 5 s restarts.',
    check(flags, run) {
      if (
        !run.noWrite &&
        run.phases.includes('process-death') &&
        flags.kills < MIN_RECORDED_KILLS
      ) {
        throw new BenchUsageError(
          `--kills: a recorded result needs at least ${MIN_RECORDED_KILLS} kills; add --no-write for a shorter trial run`,
        );
      }
    },
  }),
);
