/**
 * Experiment, not a measured target: `npm run bench -- experiments/shim-rtt [--rounds 200]`.
 * The round trip of one byte through `T dev1-direct cat` (a byte written, the same byte read
 * back), for plain ssh and the shim on each byte path: what each of a protocol's round trips
 * costs through the shim.
 */
import { spawn } from 'node:child_process';
import { median } from '../lib/stats.js';
import { terminalTable } from '../lib/table.js';
import { FORMS_WITH_JAVASCRIPT, HOSTS } from '../shim/world.js';
import { runShimExperiment } from './shim-world.js';

runShimExperiment('shim-rtt', async ({ bw, rounds }) => {
  const rows: string[][] = [];
  for (const form of FORMS_WITH_JAVASCRIPT) {
    const child = spawn(bw.transport[form], [HOSTS.direct, 'cat'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const rtts: number[] = [];
    let waiting: (() => void) | undefined;
    child.stdout.on('data', () => waiting?.());
    const once = () =>
      new Promise<number>((resolve) => {
        const t0 = performance.now();
        waiting = () => {
          waiting = undefined;
          resolve(performance.now() - t0);
        };
        child.stdin.write('x');
      });
    await once(); // the session's start
    for (let i = 0; i < rounds; i++) rtts.push(await once());
    child.stdin.end();
    await new Promise((r) => child.once('close', r));
    rtts.sort((a, b) => a - b);
    rows.push([form, median(rtts).toFixed(3), rtts[Math.floor(rtts.length * 0.9)]!.toFixed(3)]);
  }
  return terminalTable({ headers: ['form', 'median RTT ms', 'p90 ms'], rows });
});
