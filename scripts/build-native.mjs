#!/usr/bin/env node
/**
 * Compiles the shim's native byte path (native/*.c) into native/build/shim-pump.node with the
 * system C compiler against the pinned `node-api-headers` dependency: no node-gyp, no download.
 * The package's `postinstall` runs it (`npm ci`, `npm install`, `npm install -g`), and
 * scripts/build-binary.mjs runs it with `--output` to embed the addon in the single executables.
 *
 * Silent on success. Without a compiler (or on any failure) it prints one line and exits 0: the
 * shim then uses the addon prebuilt for this architecture where the package has one
 * (scripts/prebuild.mjs, run by `npm pack`), else its JavaScript path. `--strict` makes a failure
 * exit 1 and shows the compiler's own output (for tests and benches); either way an addon left
 * from an earlier build is removed.
 * The addon is compiled under a temporary name and renamed into place, so a process that loaded
 * the previous one keeps a whole file and a reader never sees half of one.
 *
 * Usage: node scripts/build-native.mjs [--strict] [--output PATH]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let values;
try {
  ({ values } = parseArgs({
    options: { strict: { type: 'boolean' }, output: { type: 'string' } },
    strict: true,
  }));
} catch (err) {
  console.error(
    `build-native: ${err.message} (usage: build-native.mjs [--strict] [--output PATH])`,
  );
  process.exit(2);
}
const strict = values.strict === true;
const out = values.output
  ? resolve(values.output)
  : join(root, 'native', 'build', 'shim-pump.node');

/**
 * The addon scripts/prebuild.mjs made for this architecture (in packages made by `npm pack`),
 * which the shim loads where none is built here.
 */
const prebuilt = join(root, 'prebuilds', `linux-${process.arch}`, 'shim-pump.node');

/** Ends without an addon: one made from older sources is removed, not left to be loaded. */
function skip(why) {
  rmSync(out, { force: true });
  const instead =
    !values.output && existsSync(prebuilt)
      ? `the shim uses the prebuilt ${relative(root, prebuilt)}`
      : 'the shim uses its JavaScript path';
  console.log(`burrow: native shim path not built (${why}); ${instead}`);
  process.exit(strict ? 1 : 0);
}

if (process.platform !== 'linux') skip(`not Linux but ${process.platform}`);
let include;
try {
  include = join(
    dirname(createRequire(import.meta.url).resolve('node-api-headers/package.json')),
    'include',
  );
} catch {
  skip('node-api-headers is not installed');
}
const cc = process.env.CC || 'cc';
if (spawnSync(cc, ['--version'], { stdio: 'ignore' }).status !== 0) skip(`no C compiler (${cc})`);
try {
  mkdirSync(dirname(out), { recursive: true });
} catch (err) {
  skip(`cannot create ${dirname(out)}: ${err.code ?? err.message}`);
}
const tmp = `${out}.tmp-${process.pid}`;
const sources = readdirSync(join(root, 'native'))
  .filter((f) => f.endsWith('.c'))
  .map((f) => join(root, 'native', f));
const args = ['-O2', '-Wall', '-Wextra', '-Werror', '-fPIC', '-shared', '-pthread', `-I${include}`];
args.push('-DNODE_GYP_MODULE_NAME=shim_pump', '-o', tmp, ...sources);
const r = spawnSync(cc, args, {
  stdio: ['ignore', strict ? 'inherit' : 'pipe', strict ? 'inherit' : 'pipe'],
  encoding: 'utf8',
});
if (r.status !== 0) {
  rmSync(tmp, { force: true });
  const first = `${r.stderr ?? ''}${r.stdout ?? ''}`.split('\n').find((l) => /error/i.test(l));
  skip(`${cc} failed${first ? `: ${first.trim()}` : ''}`);
}
try {
  renameSync(tmp, out);
} catch (err) {
  rmSync(tmp, { force: true });
  skip(`cannot write ${out}: ${err.code ?? err.message}`);
}
