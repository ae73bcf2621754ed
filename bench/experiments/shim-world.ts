/**
 * The driver of the shim experiments: parses `--size` (default 1G) and `--rounds` (default 3),
 * starts the shim bench's world (relay, device sshd, agent) in one Scope, runs the experiment,
 * prints what it returns and stops everything. Experiments write no results.
 */
import { parseArgs } from 'node:util';
import { Scope } from '../../test/helpers/index.js';
import { parseCount, parseSize } from '../lib/flags.js';
import { progressLogger, runBenchMain } from '../lib/report.js';
import { type BenchWorld, startBenchWorld } from '../shim/world.js';

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
