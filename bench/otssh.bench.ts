/**
 * `npm run bench -- otssh [flags]`: the single executable dist/bin/otssh (a Node SEA with a V8
 * code cache): how long from spawn until it runs its announce command, against the same sources
 * run by `node`; and its peak RSS over a start plus one real OpenSSH session (exec and pty).
 * Also records the sizes of dist/bin/otssh and dist/bin/burrow. Builds the binaries first when
 * they are older than the sources. Writes bench/results/otssh.json and the `otssh` section of
 * BENCHMARKS.md, and prints a summary.
 */
import { statSync } from 'node:fs';
import { relative } from 'node:path';
import { parseArgs } from 'node:util';

import { BINARIES, ensureBinaries } from '../test/helpers/binaries.js';
import { Scope } from '../test/helpers/index.js';
import { parseCount } from './lib/flags.js';
import {
  BenchUsageError,
  publishResults,
  REPO_ROOT,
  runBenchMain,
  startBench,
} from './lib/report.js';
import { measureMemory } from './otssh/memory.js';
import { renderMarkdown, renderSummary } from './otssh/render.js';
import { evaluateTargets, type FileSize, type OtsshResults } from './otssh/results.js';
import { measureStartup, seaRuntime } from './otssh/startup.js';

const NAME = 'otssh';
/** Fewest start-ups per form, and sessions per kind, for a result that is written down. */
const MIN_RECORDED_STARTS = 20;
const DEFAULT_STARTS = 30;
const MIN_RECORDED_ROUNDS = 5;

const USAGE = `usage: npm run bench -- otssh [flags]

  --starts N      start-ups per form (binary, sources on node) (default ${DEFAULT_STARTS}; fewer
                  than ${MIN_RECORDED_STARTS} only with --no-write)
  --rounds N      peak-memory rounds per session kind, exec and pty (default ${MIN_RECORDED_ROUNDS};
                  fewer only with --no-write)
  --no-write      print the summary only; leave results and BENCHMARKS.md alone
  --help

About a minute with the defaults (plus a rebuild of the binaries when the sources changed).`;

function parseFlags(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      starts: { type: 'string', default: String(DEFAULT_STARTS) },
      rounds: { type: 'string', default: String(MIN_RECORDED_ROUNDS) },
      'no-write': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const starts = parseCount('starts', values.starts);
  const rounds = parseCount('rounds', values.rounds);
  const noWrite = values['no-write'];
  if (!noWrite && starts < MIN_RECORDED_STARTS) {
    throw new BenchUsageError(
      `--starts: a recorded result needs at least ${MIN_RECORDED_STARTS}; add --no-write for a trial run`,
    );
  }
  if (!noWrite && rounds < MIN_RECORDED_ROUNDS) {
    throw new BenchUsageError(
      `--rounds: a recorded result needs at least ${MIN_RECORDED_ROUNDS}; add --no-write for a trial run`,
    );
  }
  return { help: values.help, starts, rounds, noWrite };
}

function sizes(): FileSize[] {
  const files: FileSize[] = [BINARIES.otssh, BINARIES.burrow].map((path) => ({
    path: relative(REPO_ROOT, path),
    bytes: statSync(path).size,
  }));
  const runtime = seaRuntime();
  if (runtime) {
    files.push({
      path: `~/.cache/burrow/node-${runtime.version}-linux-x64/node`,
      bytes: statSync(runtime.path).size,
      note: 'the Node runtime both are made of',
    });
  }
  return files;
}

/** Runs `body` in its own Scope: everything it started is stopped before the next phase. */
async function phase<T>(name: string, body: (scope: Scope) => Promise<T>): Promise<T> {
  const scope = new Scope();
  try {
    return await body(scope);
  } catch (err) {
    const dump = scope.dump();
    if (dump) process.stderr.write(`\n=== diagnostics for ${name} ===\n${dump}`);
    throw err;
  } finally {
    await scope.close();
  }
}

async function main(): Promise<void> {
  const start = startBench(NAME, USAGE, parseFlags);
  if (!start) return;
  const { flags, log, command, machine, started } = start;

  log('checking dist/bin/otssh and dist/bin/burrow (rebuilt when older than the sources)');
  await ensureBinaries();
  const startup = await phase('start-up', (s) => measureStartup(s, { starts: flags.starts, log }));
  const memory = await phase('memory', (s) => measureMemory(s, { rounds: flags.rounds, log }));

  const results: OtsshResults = {
    benchmark: NAME,
    date: new Date(started).toISOString(),
    command,
    machine,
    durationS: Math.round((Date.now() - started) / 100) / 10,
    targets: evaluateTargets(startup, memory),
    sizes: sizes(),
    startup,
    memory,
  };
  process.stdout.write(`${renderSummary(results)}\n`);
  publishResults({
    name: NAME,
    after: 'failover',
    results: results,
    markdown: renderMarkdown(results),
    noWrite: flags.noWrite,
    started,
  });
}

runBenchMain(NAME, main);
