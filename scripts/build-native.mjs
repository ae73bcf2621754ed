#!/usr/bin/env node
/**
 * Compiles the shim's native byte path prototype (native/*.c) into native/build/shim-pump.node
 * with the system C compiler against the pinned `node-api-headers` package: no node-gyp, no
 * download. Without a compiler (or on a failure) it prints one line and exits 0: the shim then
 * uses its JavaScript path. `--strict` makes a failure exit 1 (for tests and benches).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict');
const out = join(root, 'native', 'build', 'shim-pump.node');

function skip(why) {
  console.log(`burrow: native shim path not built (${why}); the shim uses its JavaScript path`);
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
mkdirSync(dirname(out), { recursive: true });
const args = ['-O2', '-Wall', '-Wextra', '-Werror', '-fPIC', '-shared', '-pthread', `-I${include}`];
const sources = readdirSync(join(root, 'native'))
  .filter((f) => f.endsWith('.c'))
  .map((f) => join(root, 'native', f));
args.push('-DNODE_GYP_MODULE_NAME=shim_pump', '-o', out, ...sources);
const r = spawnSync(cc, args, { stdio: ['ignore', 'inherit', 'inherit'] });
if (r.status !== 0) skip(`${cc} failed`);
