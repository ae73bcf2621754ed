/**
 * Experiment, not a measured target: `npm run bench -- experiments/shim-ramp [--size 64M]
 * [--rounds 3]`. When each MiB mark of an rsync arrives at the destination, for plain ssh and the
 * shim, alternating: whether the shim's extra time is paid at the start, in a ramp, or at the end.
 * What it showed (BENCHMARKS.md, shim): most of it at the start, the first byte 144 ms later than
 * through ssh (159 ms before ssh started ahead of the local side's loading and the serving end
 * was bundled), the gap about the same through 128 MiB.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { largestFile } from '../../test/helpers/index.js';
import { median, rotate } from '../lib/stats.js';
import { terminalTable } from '../lib/table.js';
import { rsyncArgs, transferTimeoutMs } from '../shim/no-faults.js';
import { runRsync } from '../shim/rsync.js';
import { FORMS, HOSTS } from '../shim/world.js';
import { runShimExperiment } from './shim-world.js';

const MiB = 2 ** 20;

runShimExperiment('shim-ramp', async ({ scope, bw, rounds, log }) => {
  const marks = [0.001, 1, 4, 16, 32, 64, 128, 256, 512].filter((m) => m * MiB <= bw.bytes);
  const at = new Map<string, number[][]>();
  for (let round = 1; round <= rounds; round++) {
    for (const form of rotate(FORMS, round - 1)) {
      const dir = join(bw.dir, `ramp-${form}`);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir);
      const t0 = performance.now();
      const times: number[] = [];
      let done = false;
      const run = runRsync(
        scope,
        rsyncArgs(bw.transport[form], bw.src, `${HOSTS.direct}:${dir}/`),
        {
          timeoutMs: transferTimeoutMs(bw.bytes),
        },
      ).finally(() => {
        done = true;
      });
      while (!done && times.length < marks.length) {
        const size = largestFile(dir);
        while (times.length < marks.length && size >= marks[times.length]! * MiB) {
          times.push(performance.now() - t0);
        }
        await sleep(2);
      }
      const r = await run;
      const end = performance.now() - t0;
      if (r.code !== 0) throw new Error(`${form}: rsync exit ${r.code}`);
      while (times.length < marks.length) times.push(Number.NaN);
      times.push(end);
      at.set(form, [...(at.get(form) ?? []), times]);
      log(`round ${round} ${form}: ${times.map((t) => t.toFixed(0)).join(' ')}`);
    }
  }
  const col = (form: string, i: number) => median(at.get(form)!.map((t) => t[i]!));
  return terminalTable({
    headers: ['arrived', 'ssh ms', 'shim ms', 'shim − ssh'],
    rows: [...marks.map((m) => `${m} MiB`), 'rsync exit'].map((label, i) => [
      label,
      col('ssh', i).toFixed(0),
      col('shim', i).toFixed(0),
      (col('shim', i) - col('ssh', i)).toFixed(0),
    ]),
  });
});
