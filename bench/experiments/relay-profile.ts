/**
 * Experiment, not a measured target: `npm run bench -- experiments/relay-profile [--size 1G]
 * [--rounds 1] [--latency-runs 10] [--devices 2000]`.
 * What it shows: where the relay's CPU goes, by category and by function, while it carries bulk
 * data and while it keeps idle devices; no finding of it is recorded in BENCHMARKS.md.
 *
 * Runs the relay bench's throughput and latency measurements, then its idle-devices measurement,
 * each with the relay under `node --cpu-prof`, and prints each profile summarised (self time by
 * category and by function). Nothing is recorded: profiling slows the relay.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { Scope, tmpDir } from '../../test/helpers/index.js';
import { summarizeProfile } from '../lib/cpuprofile.js';
import { parseCount, parseSize } from '../lib/flags.js';
import { progressLogger, runBenchMain } from '../lib/report.js';
import { terminalTable } from '../lib/table.js';
import { measureIdle } from '../relay/idle.js';
import { measureLatency } from '../relay/latency.js';
import { measureThroughput } from '../relay/throughput.js';
import { startWorld } from '../relay/world.js';

const NAME = 'relay-profile';

function profileSummary(label: string, dir: string): string {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) return `no CPU profile was written in ${dir}`;
  const path = join(dir, files[0]!);
  const s = summarizeProfile(path, 25);
  return [
    `CPU profile of the ${label} relay (${path}): ${s.busyMs} ms busy of ${s.totalMs} ms`,
    terminalTable({
      headers: ['category', 'self ms', '% of busy'],
      rows: s.categories.map((c) => [c.category, c.ms, c.pctBusy]),
    }),
    '',
    terminalTable({
      headers: ['function', 'where', 'self ms', '% of busy'],
      rows: s.top.map((f) => [f.fn, f.where, f.ms, f.pctBusy]),
    }),
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: {
      size: { type: 'string', default: '1G' },
      rounds: { type: 'string', default: '1' },
      'latency-runs': { type: 'string', default: '10' },
      devices: { type: 'string', default: '2000' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      `usage: npm run bench -- experiments/${NAME} [--size 1G] [--rounds 1] [--latency-runs 10] [--devices 2000]\n`,
    );
    return;
  }
  const bytes = parseSize(values.size);
  const rounds = parseCount('rounds', values.rounds);
  const runs = parseCount('latency-runs', values['latency-runs']);
  const devices = parseCount('devices', values.devices);
  const log = progressLogger(NAME);
  const profDir = (label: string) => mkdtempSync(join(tmpdir(), `burrow-bench-prof-${label}-`));

  const hops = new Scope();
  const hopsDir = profDir('hops');
  try {
    const world = await startWorld(hops, { profileDir: hopsDir });
    await measureThroughput(hops, world, { bytes, rounds, log });
    await measureLatency(hops, world, { runs, log });
    // The relay writes its profile when it exits. Its SIGTERM drain waits for every connection
    // to end, and stock ssh ignores drain@burrow: end the tunnels first.
    await Promise.all(world.tunnels.map((t) => t.stop()));
    await world.relay.proc.stop();
    process.stdout.write(`\n${profileSummary('throughput/latency', hopsDir)}\n`);
  } finally {
    await hops.close();
  }

  const idle = new Scope();
  const idleDir = profDir('idle');
  try {
    const dir = await tmpDir(idle, 'burrow-bench-idle-');
    const { relayProc } = await measureIdle(idle, dir, {
      devices,
      concurrency: 64,
      idleWindowS: 5,
      log,
      profileDir: idleDir,
    });
    await relayProc.stop();
    process.stdout.write(`\n${profileSummary('idle-devices', idleDir)}\n`);
  } finally {
    await idle.close();
  }
}

runBenchMain(NAME, main);
