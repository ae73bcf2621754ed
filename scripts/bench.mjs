#!/usr/bin/env node
/**
 * `npm run bench [-- NAME [flags…] [NAME [flags…]]…]`: builds the project, then runs the named
 * benchmarks one after another (all of them when none is named), each in its own Node process so
 * a failure or a crash in one cannot leave another's processes behind.
 *
 * A benchmark is a file `bench/<name>.bench.ts` (compiled to `dist/bench/<name>.bench.js`); adding
 * one needs no change here. Flags after a name belong to that benchmark (`relay --devices 50000`),
 * and each benchmark has its own `--help`. Every benchmark writes `bench/results/<name>.json` and
 * its own section of BENCHMARKS.md.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from './build.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const SUFFIX = '.bench.ts';

/** Benchmarks promised by the design but not written yet: named in errors, not runnable. */
const PLANNED = {};

function available() {
  const dir = join(root, 'bench');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(SUFFIX))
    .map((f) => f.slice(0, -SUFFIX.length))
    .sort();
}

/** Investigations under bench/experiments/: run only when named (`experiments/shim-floor`). */
function experiments() {
  const dir = join(root, 'bench', 'experiments');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('-world.ts'))
    .map((f) => `experiments/${f.slice(0, -3)}`)
    .sort();
}

function knownList(names) {
  const planned = Object.keys(PLANNED).filter((n) => !names.includes(n));
  return (
    `known benchmarks: ${names.join(', ') || '(none)'}` +
    (planned.length ? `; planned, not written yet: ${planned.join(', ')}` : '')
  );
}

function usage(names) {
  return [
    'usage: npm run bench [-- NAME [flags…] [NAME [flags…]]…]',
    '',
    'Builds (scripts/build.mjs), then runs the named benchmarks (all when none is named).',
    'Flags after a name go to that benchmark; `npm run bench -- NAME --help` lists them.',
    '',
    ...names.map((n) => `  ${n}`),
    ...Object.entries(PLANNED)
      .filter(([n]) => !names.includes(n))
      .map(([n, what]) => `  ${n}  (planned: ${what})`),
  ].join('\n');
}

function fail(message) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

/**
 * Splits argv into [{ name, args }]. A bare word that names a benchmark starts a new group; any
 * other bare word is a flag's value if it follows a `--flag` without `=`, otherwise an error.
 */
function parse(argv, names) {
  const groups = [];
  let prevFlag = false;
  for (const token of argv) {
    const isFlag = token.startsWith('-');
    if (!isFlag && (names.includes(token) || token in PLANNED)) {
      if (!names.includes(token)) fail(`'${token}' is not written yet; ${knownList(names)}`);
      groups.push({ name: token, args: [] });
      prevFlag = false;
      continue;
    }
    if (groups.length === 0) {
      if (token === '--help' || token === '-h') {
        process.stdout.write(`${usage(names)}\n`);
        process.exit(0);
      }
      if (isFlag)
        fail(`flags go after a benchmark name (e.g. relay ${token}); ${knownList(names)}`);
      fail(`unknown benchmark '${token}'; ${knownList(names)}`);
    }
    if (!isFlag && !prevFlag) fail(`unknown benchmark '${token}'; ${knownList(names)}`);
    groups[groups.length - 1].args.push(token);
    prevFlag = isFlag && !token.includes('=');
  }
  const all = names.filter((n) => !n.startsWith('experiments/'));
  return groups.length > 0 ? groups : all.map((name) => ({ name, args: [] }));
}

function elapsed(t0) {
  const s = (Date.now() - t0) / 1000;
  return s < 60
    ? `${s.toFixed(1)} s`
    : `${Math.floor(s / 60)}m ${String(Math.round(s % 60)).padStart(2, '0')}s`;
}

function runOne({ name, args }) {
  const file = name.startsWith('experiments/') ? `${name}.js` : `${name}.bench.js`;
  const script = join(root, 'dist', 'bench', file);
  if (!existsSync(script)) fail(`${script} is missing after the build`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: root, stdio: 'inherit' });
    child.on('error', (err) => resolve({ code: 1, error: err.message }));
    child.on('exit', (code, signal) => resolve({ code: code ?? 1, signal }));
  });
}

async function main() {
  const names = available();
  const groups = parse(process.argv.slice(2), [...names, ...experiments()]);
  if (groups.length === 0) fail(`nothing to run; ${knownList(names)}`);

  const t0 = Date.now();
  process.stderr.write('bench: building (scripts/build.mjs)\n');
  const built = await build();
  if (built !== 0) fail(`the build failed (exit ${built}); nothing was run`);

  // Ctrl-C reaches the benchmark too (same process group); it cleans up and exits, then we do.
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const outcomes = [];
  for (const group of groups) {
    const started = Date.now();
    process.stderr.write(`bench: running ${group.name} ${group.args.join(' ')}\n`);
    const result = await runOne(group);
    outcomes.push({ ...group, ...result, took: elapsed(started) });
    if (interrupted) break;
  }
  process.stderr.write('\n');
  for (const o of outcomes) {
    const how = o.signal
      ? `killed by ${o.signal}`
      : o.code === 0
        ? 'ok'
        : `FAILED (exit ${o.code})`;
    process.stderr.write(`bench: ${o.name}: ${how} in ${o.took}\n`);
  }
  process.stderr.write(`bench: total ${elapsed(t0)}\n`);
  const failed = outcomes.some((o) => o.code !== 0) || interrupted;
  process.exit(failed ? 1 : 0);
}

main();
