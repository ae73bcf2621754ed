#!/usr/bin/env node
/**
 * Prebuilds the shim's native byte path for the architectures devices run, so that a package made
 * with `npm pack` (which runs this as `prepack`) carries it for machines with no C compiler:
 * prebuilds/linux-x64/shim-pump.node and prebuilds/linux-arm64/shim-pump.node, each compiled by
 * scripts/build-native.mjs --strict (the install's own build, -Werror) with that architecture's
 * compiler. N-API addons do not depend on the Node version, so one file per architecture serves
 * every Node ≥ 20. The shim loads native/build/shim-pump.node (compiled at install) first, and
 * the prebuilt file for its architecture where that is missing or does not load
 * (src/shim/native-pump.ts).
 *
 * Compilers: `cc` for the machine's own architecture, else `<gnu triple>-gcc` (Debian's
 * gcc-x86-64-linux-gnu, gcc-aarch64-linux-gnu); PREBUILD_CC_X64 / PREBUILD_CC_ARM64 name others.
 * Each result is checked to be an ELF shared object for its architecture. Any failure exits 1
 * naming what to install: a package must not go out without one of them.
 *
 * Usage: node scripts/prebuild.mjs [--arch x64,arm64] [--out-dir DIR]   (default: both, ./prebuilds)
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = 'usage: prebuild.mjs [--arch x64,arm64] [--out-dir DIR]';

/** Node's arch name → the GNU triple of its cross compiler and the ELF e_machine of its objects. */
const ARCHES = {
  x64: { triple: 'x86_64-linux-gnu', machine: 62, package: 'gcc-x86-64-linux-gnu' },
  arm64: { triple: 'aarch64-linux-gnu', machine: 183, package: 'gcc-aarch64-linux-gnu' },
};

let values;
try {
  ({ values } = parseArgs({
    options: {
      arch: { type: 'string', default: Object.keys(ARCHES).join(',') },
      'out-dir': { type: 'string', default: join(root, 'prebuilds') },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  }));
} catch (err) {
  console.error(`prebuild: ${err.message} (${USAGE})`);
  process.exit(2);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const arches = values.arch.split(',').filter(Boolean);
const unknown = arches.filter((a) => !(a in ARCHES));
if (arches.length === 0 || unknown.length > 0) {
  console.error(
    `prebuild: unknown --arch ${unknown.join(',') || '(none)'}: x64 or arm64 (${USAGE})`,
  );
  process.exit(2);
}
const outDir = resolve(values['out-dir']);

/** The ELF e_machine of a file, or undefined when it is not ELF. */
function elfMachine(path) {
  const head = Buffer.alloc(20);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 20, 0);
  } finally {
    closeSync(fd);
  }
  return head.subarray(0, 4).toString('latin1') === '\x7fELF' ? head.readUInt16LE(18) : undefined;
}

let failed = false;
for (const arch of arches) {
  const { triple, machine, package: pkg } = ARCHES[arch];
  const cc =
    process.env[`PREBUILD_CC_${arch.toUpperCase()}`] ||
    (arch === process.arch ? 'cc' : `${triple}-gcc`);
  const out = join(outDir, `linux-${arch}`, 'shim-pump.node');
  const r = spawnSync(
    process.execPath,
    [join(root, 'scripts', 'build-native.mjs'), '--strict', '--output', out],
    { env: { ...process.env, CC: cc }, encoding: 'utf8' },
  );
  if (r.status !== 0) {
    const said = `${r.stdout}${r.stderr}`
      .trim()
      .split('\n')
      .at(-1)
      ?.replace(/; the shim uses .*$/, '');
    console.error(
      `prebuild: linux-${arch} not built with ${cc}: ${said}` +
        (cc === `${triple}-gcc`
          ? ` (install ${pkg}, or name a compiler in PREBUILD_CC_${arch.toUpperCase()})`
          : ''),
    );
    failed = true;
    continue;
  }
  const got = elfMachine(out);
  if (got !== machine) {
    console.error(
      `prebuild: ${out} is not a linux-${arch} object (ELF machine ${got}, not ${machine})`,
    );
    failed = true;
    continue;
  }
  console.log(`prebuild: ${out}`);
}
process.exit(failed ? 1 : 0);
