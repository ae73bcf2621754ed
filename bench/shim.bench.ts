import { parseArgs } from 'node:util';

import { Scope } from '../test/helpers/index.js';
import { parseCount, parseSize } from './lib/flags.js';
import { BenchUsageError, publishResults, runBenchMain, startBench } from './lib/report.js';
import { measureCuts } from './shim/cuts.js';
import { measureFloor } from './shim/floor.js';
import { measureNoFaults } from './shim/no-faults.js';
import { profileShim } from './shim/profile.js';
import { renderMarkdown, renderSummary } from './shim/render.js';
import { evaluateTargets, type ShimResults } from './shim/results.js';
import { startBenchWorld } from './shim/world.js';

const NAME = 'shim';
/** Fewest fault-free runs per transport for a result that is written down. */
const MIN_RECORDED_ROUNDS = 3;

const USAGE = `usage: npm run bench -- shim [flags]

  --size BYTES      the file rsync sends; K/M/G suffixes (default 1G)
  --rounds N        fault-free runs per transport, alternating; medians are compared (default
                    ${MIN_RECORDED_ROUNDS}; fewer only with --no-write)
  --cut-every T     interval between connection cuts in the cut runs: 10s, 500ms, 1m (default 10s)
  --no-plain-cut    skip the run of plain ssh under the same cuts
  --profile         instead of measuring: raw stream throughput of both transports, then one rsync
                    with the shim's node processes under the V8 CPU profiler, summarised; writes
                    nothing
  --floor           instead of measuring: the same rsync with a bare Node pipe (read, write, nothing
                    else) in each of the two places the shim puts a Node process, once with the
                    event loop and once with blocking reads and writes, next to ssh and the shim,
                    --rounds times; prints medians, writes nothing
  --no-write        print the summary only; leave results and BENCHMARKS.md alone
  --help

About 3 minutes with the defaults on a 2-core machine.`;

function parseInterval(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new BenchUsageError(`--cut-every: expected e.g. 10s, 500ms or 1m, got "${text}"`);
  const ms = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000);
  if (ms < 100) throw new BenchUsageError(`--cut-every: at least 100ms, got "${text}"`);
  return ms;
}

function parseFlags(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      size: { type: 'string', default: '1G' },
      rounds: { type: 'string', default: String(MIN_RECORDED_ROUNDS) },
      'cut-every': { type: 'string', default: '10s' },
      'no-plain-cut': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      floor: { type: 'boolean', default: false },
      'no-write': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const rounds = parseCount('rounds', values.rounds);
  const noWrite = values['no-write'];
  if (values.profile && values.floor) {
    throw new BenchUsageError('--profile and --floor: one at a time');
  }
  if (!noWrite && !values.profile && !values.floor && rounds < MIN_RECORDED_ROUNDS) {
    throw new BenchUsageError(
      `--rounds: a recorded result needs at least ${MIN_RECORDED_ROUNDS}; add --no-write for a trial run`,
    );
  }
  return {
    help: values.help,
    bytes: parseSize(values.size),
    rounds,
    cutEveryMs: parseInterval(values['cut-every']),
    plainCut: !values['no-plain-cut'],
    profile: values.profile,
    floor: values.floor,
    noWrite,
  };
}

async function main(): Promise<void> {
  const start = startBench(NAME, USAGE, parseFlags);
  if (!start) return;
  const { flags, log, command, machine, started } = start;

  // One Scope for the whole run: the same relay, sshd and agent serve every transfer.
  const scope = new Scope();
  let results: ShimResults | undefined;
  try {
    const bw = await startBenchWorld(scope, { bytes: flags.bytes, log });
    if (flags.profile) {
      process.stdout.write(`${await profileShim(scope, bw, log)}\n`);
      process.stdout.write('\n--profile: results and BENCHMARKS.md were not written.\n');
      return;
    }
    if (flags.floor) {
      process.stdout.write(`${await measureFloor(scope, bw, { rounds: flags.rounds, log })}\n`);
      process.stdout.write('\n--floor: results and BENCHMARKS.md were not written.\n');
      return;
    }
    log(`no faults: ${flags.rounds} rounds of rsync with ssh and with burrow shim, alternating`);
    const noFaults = await measureNoFaults(scope, bw, { rounds: flags.rounds, log });
    const cuts = await measureCuts(scope, bw, {
      cutEveryMs: flags.cutEveryMs,
      plainSsh: flags.plainCut,
      log,
    });
    results = {
      benchmark: NAME,
      date: new Date(started).toISOString(),
      command,
      machine,
      durationS: Math.round((Date.now() - started) / 100) / 10,
      targets: evaluateTargets(noFaults, cuts),
      noFaults,
      cuts,
    };
  } catch (err) {
    const dump = scope.dump();
    if (dump) process.stderr.write(`\n=== diagnostics ===\n${dump}`);
    throw err;
  } finally {
    log('stopping everything and removing temporary files');
    await scope.close();
  }
  if (!results) return; // --profile or --floor

  process.stdout.write(`${renderSummary(results)}\n`);
  publishResults({
    name: NAME,
    after: 'otssh',
    results: results,
    markdown: renderMarkdown(results),
    noWrite: flags.noWrite,
    started,
  });
}

runBenchMain(NAME, main);
