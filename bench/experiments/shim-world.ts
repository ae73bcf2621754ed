/**
 * The driver of the shim experiments: parses `--size` (default 1G) and `--rounds` (default 3),
 * starts the shim bench's world (relay, device sshd, agent) in one Scope, runs the experiment,
 * prints what it returns and stops everything. Experiments write no results.
 */

import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Scope } from '../../test/helpers/index.js';
import { parseCount, parseSize } from '../lib/flags.js';
import { progressLogger, runBenchMain } from '../lib/report.js';
import { rotate } from '../lib/stats.js';
import { rsyncArgs, transferTimeoutMs } from '../shim/no-faults.js';
import { runRsync, stderrTail } from '../shim/rsync.js';
import { type BenchWorld, HOSTS, startBenchWorld } from '../shim/world.js';

export interface ShimExperiment {
  readonly scope: Scope;
  readonly bw: BenchWorld;
  readonly rounds: number;
  readonly log: (msg: string) => void;
}

export function runShimExperiment(
  name: string,
  body: (x: ShimExperiment) => Promise<string>,
): void {
  const main = async () => {
    const { values } = parseArgs({
      args: process.argv.slice(2),
      strict: true,
      options: {
        size: { type: 'string', default: '1G' },
        rounds: { type: 'string', default: '3' },
        help: { type: 'boolean', default: false },
      },
    });
    if (values.help) {
      process.stdout.write(
        `usage: npm run bench -- experiments/${name} [--size 1G] [--rounds 3]\n`,
      );
      return;
    }
    const rounds = parseCount('rounds', values.rounds);
    const bytes = parseSize(values.size);
    const log = progressLogger(name);
    const scope = new Scope();
    try {
      const bw = await startBenchWorld(scope, { bytes, log });
      process.stdout.write(`${await body({ scope, bw, rounds, log })}\n`);
    } finally {
      await scope.close();
    }
  };
  runBenchMain(name, main);
}

/** How a form's rsync is run: its transport (`-e`) and any extra rsync flags. */
export interface RsyncForm {
  readonly transport: string;
  readonly extra: readonly string[];
}

/**
 * Runs every form's rsync of the world's source once per round, the order rotated each round,
 * into `dst` (removed before each run and at the end, with `cpuLog`); throws on a failed rsync.
 * `after(form)` checks the copy as the experiment wants and says the run's CPU. Returns each
 * form's times and the per-run rows (round, form, time, CPU text).
 */
export async function alternateRsync<F extends string, C extends { text: string }>(
  scope: Scope,
  bw: BenchWorld,
  opts: {
    forms: Record<F, RsyncForm>;
    rounds: number;
    dst: string;
    cpuLog: string;
    tag: string;
    log: (line: string) => void;
  },
  after: (form: F) => Promise<C>,
): Promise<{ times: Map<F, number[]>; cpus: Map<F, C[]>; rows: (string | number)[][] }> {
  const { forms, rounds, dst, cpuLog, tag, log } = opts;
  const times = new Map<F, number[]>();
  const cpus = new Map<F, C[]>();
  const rows: (string | number)[][] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const form of rotate(Object.keys(forms) as F[], round - 1)) {
      rmSync(dst, { force: true });
      rmSync(cpuLog, { force: true });
      const { transport, extra } = forms[form];
      const args = [...extra, ...rsyncArgs(transport, bw.src, `${HOSTS.direct}:${dst}`)];
      const run = await runRsync(scope, args, { timeoutMs: transferTimeoutMs(bw.bytes) });
      if (run.code !== 0) {
        throw new Error(`${form}: rsync failed (exit ${run.code}):\n${stderrTail(run)}`);
      }
      const cpu = await after(form);
      times.set(form, [...(times.get(form) ?? []), run.seconds]);
      cpus.set(form, [...(cpus.get(form) ?? []), cpu]);
      log(`${tag} round ${round}, ${form}: ${run.seconds.toFixed(2)} s; CPU s ${cpu.text}`);
      rows.push([round, form, `${run.seconds.toFixed(2)} s`, cpu.text]);
    }
  }
  rmSync(dst, { force: true });
  return { times, cpus, rows };
}
