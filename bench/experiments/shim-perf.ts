/**
 * Experiment, not a measured target: `npm run bench -- experiments/shim-perf [--size 512M]`.
 * One rsync through `burrow shim` (native byte path) under `perf record -a -g` (the whole
 * machine, 499 Hz); perf.data is left in a new directory under the system temp dir, printed, for
 * `perf report -i DIR/perf.data --sort pid`. What it showed: the shim's two processes take about
 * 7% of the machine's busy samples, the relay and the agent (both ssh2) about 40%.
 */

import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { rsyncArgs, transferTimeoutMs } from '../shim/no-faults.js';
import { runRsync, stderrTail } from '../shim/rsync.js';
import { HOSTS } from '../shim/world.js';
import { runShimExperiment } from './shim-world.js';

runShimExperiment('shim-perf', async ({ scope, bw, log }) => {
  const out = join(mkdtempSync(join(tmpdir(), 'burrow-shim-perf-')), 'perf.data');
  const perf = spawn('perf', ['record', '-a', '-g', '-F', '499', '-o', out], { stdio: 'ignore' });
  scope.defer(() => {
    perf.kill('SIGKILL');
  }, 'perf');
  await sleep(500);
  const dst = join(bw.dir, 'perf-dst.bin');
  const run = await runRsync(
    scope,
    rsyncArgs(bw.transport.shim, bw.src, `${HOSTS.direct}:${dst}`),
    {
      timeoutMs: transferTimeoutMs(bw.bytes),
    },
  );
  perf.kill('SIGINT');
  await new Promise((r) => perf.once('exit', r));
  if (run.code !== 0) throw new Error(`rsync failed: ${stderrTail(run)}`);
  log(`rsync ${run.seconds.toFixed(2)} s`);
  return `perf data: ${out}`;
});
