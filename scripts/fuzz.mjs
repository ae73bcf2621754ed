#!/usr/bin/env node
/**
 * `npm run fuzz`: the properties `npm test` runs with a fixed seed (test/properties/), run here
 * with fresh random seeds and many more runs each, round after round until the time is up; then,
 * unless `--no-wire`, the wire fuzzer (test/relay-wire-fuzz.test.ts) against a live relay with a
 * fresh seed and more cases.
 *
 * Usage:
 *   npm run fuzz                                  1 minute
 *   npm run fuzz -- --minutes 30                  bounded by wall-clock time (rounds are cut short)
 *   npm run fuzz -- --seed 123 --only "checkName" replays one property with the seed it printed
 *   npm run fuzz -- --no-wire                     properties only
 *   npm run fuzz -- --no-build                    skip the build (dist/ is already current)
 *
 * Every round prints its seed. A failure prints fast-check's report (the shrunk counterexample,
 * its seed and path) and the command that replays it; the wire fuzzer's seed replays with
 * `WIRE_FUZZ_SEED=… npm test -- relay-wire-fuzz`. Exit status 0 when nothing failed, 1 when
 * something did, 2 for bad flags. The last line is `fuzz: N passed, N failed`.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from './build.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
/** How many times a property's `npm test` run count one fuzz round uses. */
const RUNS_FACTOR = 20;
/** Share of the time the wire fuzzer gets when it runs. */
const WIRE_SHARE = 0.4;

const HELP = `usage: npm run fuzz -- [--minutes N] [--seed N] [--only TEXT] [--no-wire] [--no-build]

Runs the properties npm test runs with a fixed seed, here with fresh seeds and many
more runs each, round after round until the time is up; then, unless --no-wire, the
wire fuzzer against a live relay with a fresh seed.

  --minutes N    how long, in minutes (default 1; rounds are cut short)
  --seed N       the seed of every round (replays a failure it printed)
  --only TEXT    only the properties whose name contains TEXT
  --no-wire      the properties only
  --no-build     skip the build (dist/ is already current)

Exit status 0 when nothing failed, 1 when something did, 2 for bad flags.
`;

function usage(message) {
  process.stderr.write(
    `fuzz: ${message}\nusage: npm run fuzz -- [--minutes N] [--seed N] [--only TEXT] [--no-wire] [--no-build]\n`,
  );
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { minutes: 1, seed: undefined, only: undefined, wire: true, build: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${arg} needs a value`);
      return v;
    };
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(HELP);
      process.exit(0);
    } else if (arg === '--minutes') {
      opts.minutes = Number(value());
      if (!(opts.minutes > 0 && opts.minutes <= 24 * 60))
        usage('--minutes: expected a number of minutes above 0');
    } else if (arg === '--seed') {
      const v = value();
      if (!/^-?\d{1,10}$/.test(v)) usage('--seed: expected a whole number');
      opts.seed = Number(v) | 0;
    } else if (arg === '--only') opts.only = value();
    else if (arg === '--no-wire') opts.wire = false;
    else if (arg === '--no-build') opts.build = false;
    else usage(`unknown argument ${JSON.stringify(arg)}`);
  }
  return opts;
}

const randomSeed = () => (Math.random() * 0x7fffffff) | 0;

async function fuzzProperties(opts, deadline) {
  const fc = (await import('fast-check')).default;
  const { ALL_PROPERTIES } = await import(
    pathToFileURL(join(root, 'dist/test/properties/index.js')).href
  );
  const chosen = ALL_PROPERTIES.filter(
    (p) => opts.only === undefined || `${p.subject}: ${p.name}`.includes(opts.only),
  );
  if (chosen.length === 0) usage(`--only ${JSON.stringify(opts.only)} matches no property`);
  let passed = 0;
  let failed = 0;
  for (let round = 1; Date.now() < deadline; round++) {
    const seed = opts.seed ?? randomSeed();
    process.stdout.write(`\n== fuzz: round ${round}, seed ${seed}\n`);
    for (const p of chosen) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      const started = Date.now();
      const details = await fc.check(p.property(), {
        seed,
        numRuns: p.runs * RUNS_FACTOR,
        interruptAfterTimeLimit: left,
        markInterruptAsFailure: false,
      });
      const label = `${p.subject}: ${p.name}`;
      if (details.failed) {
        failed++;
        process.stdout.write(`FAIL ${label}\n${fc.defaultReportMessage(details)}\n`);
        if (details.errorInstance)
          process.stdout.write(`  cause: ${String(details.errorInstance).slice(0, 2000)}\n`);
        process.stdout.write(
          `  replay: npm run fuzz -- --no-wire --seed ${seed} --only ${JSON.stringify(p.name)}\n`,
        );
      } else {
        passed++;
        const note = details.interrupted ? ' (time up)' : '';
        process.stdout.write(
          `ok   ${label}: ${details.numRuns} runs in ${Date.now() - started} ms${note}\n`,
        );
      }
    }
    if (opts.seed !== undefined) break;
  }
  return { passed, failed };
}

function fuzzWire(deadline) {
  const seed = randomSeed();
  const ms = Math.max(30_000, deadline - Date.now());
  const env = { ...process.env, WIRE_FUZZ_SEED: String(seed), WIRE_FUZZ_MS: String(ms) };
  process.stdout.write(
    `\n== fuzz: wire fuzzer against a live relay, seed ${seed}, ${Math.round(ms / 1000)} s\n`,
  );
  const r = spawnSync(
    process.execPath,
    ['--test', join(root, 'dist/test/relay-wire-fuzz.test.js')],
    {
      cwd: root,
      env,
      stdio: 'inherit',
    },
  );
  if (r.status !== 0) {
    process.stdout.write(
      `FAIL wire fuzzer; replay: WIRE_FUZZ_SEED=${seed} WIRE_FUZZ_MS=${ms} npm test -- relay-wire-fuzz\n`,
    );
    return false;
  }
  return true;
}

const opts = parseArgs(process.argv.slice(2));
if (opts.build && (await build()) !== 0) {
  process.stderr.write('fuzz: the build failed\n');
  process.exit(1);
}
const start = Date.now();
const total = opts.minutes * 60_000;
const wire = opts.wire && opts.only === undefined && opts.seed === undefined;
const propsDeadline = start + (wire ? total * (1 - WIRE_SHARE) : total);
const { passed, failed } = await fuzzProperties(opts, propsDeadline);
let wirePassed = 0;
let wireFailed = 0;
if (wire) {
  if (fuzzWire(start + total)) wirePassed = 1;
  else wireFailed = 1;
}
process.stdout.write(`\nfuzz: ${passed + wirePassed} passed, ${failed + wireFailed} failed\n`);
process.exit(failed + wireFailed > 0 ? 1 : 0);
