/**
 * `node scripts/build.mjs` (`npm run build`) as a user runs it: --help, a bad argument, and a
 * build while the other test files run from dist/, which it may do because every file lands by
 * rename (the bundle it makes is checked in test/shim.test.ts).
 * And `node scripts/prebuild.mjs` (`npm pack`'s prepack) into a temp dir: each architecture's
 * object, and what it says when it cannot build one (npm pack then stops).
 */
import assert from 'node:assert/strict';
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCommand, tmpDir, withScope } from './helpers/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUILD = join(ROOT, 'scripts', 'build.mjs');
const PREBUILD = join(ROOT, 'scripts', 'prebuild.mjs');

describe('scripts/build.mjs', () => {
  it('explains itself for --help and -h on stdout, exit 0, building nothing', async (t) =>
    withScope(t, async (s) => {
      for (const flag of ['--help', '-h']) {
        const r = await runCommand(s, process.execPath, [BUILD, flag], { cwd: ROOT });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^usage: node scripts\/build\.mjs {3}\(npm run build\)\n/);
        assert.match(r.stdout, /tsc -p tsconfig\.json/);
        assert.match(r.stdout, /shim-command\.js bundled in place/);
        assert.equal(r.stderr, '');
      }
    }));

  it('puts every file into dist/ by rename: new inodes, the bin scripts executable, nothing left beside it', async (t) =>
    withScope(t, async (s) => {
      const files = ['src/cli/main.js', 'src/cli/shim-command.js', 'src/core/names.js'].map((f) =>
        join(ROOT, 'dist', f),
      );
      // Held open across the build, so no new file can be given one of their inode numbers.
      const held = files.map((f) => openSync(f, 'r'));
      s.defer(() => {
        for (const fd of held) closeSync(fd);
      }, 'close the files held open');
      const r = await runCommand(s, process.execPath, [BUILD], { cwd: ROOT, timeoutMs: 120_000 });
      assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
      for (const [i, f] of files.entries()) {
        assert.notEqual(
          statSync(f).ino,
          fstatSync(held[i]!).ino,
          `${f} was replaced, not written in place`,
        );
      }
      assert.equal(statSync(files[0]!).mode & 0o777, 0o755);
      assert.match(
        readFileSync(files[1]!, 'utf8'),
        /\n\/\/# sourceMappingURL=shim-command\.js\.map\n$/,
      );
      assert.deepEqual(
        readdirSync(ROOT).filter((f) => f.startsWith('.dist-build-')),
        [],
        'the staging directory is gone',
      );
      assert.deepEqual(
        readdirSync(join(ROOT, 'dist', 'src', 'cli')).filter((f) => f.includes('.tmp-')),
        [],
        'no temporary bundle is left',
      );
    }));

  it('refuses an argument with exit 2 and one line, building nothing', async (t) =>
    withScope(t, async (s) => {
      const r = await runCommand(s, process.execPath, [BUILD, '--watch'], { cwd: ROOT });
      assert.equal(r.code, 2);
      assert.equal(r.stderr, 'build: unknown argument "--watch" (it takes none)\n');
      assert.equal(r.stdout, '');
    }));
});

describe('scripts/prebuild.mjs', () => {
  it('builds an ELF object per architecture into --out-dir/linux-ARCH, naming each', async (t) =>
    withScope(t, async (s) => {
      const out = await tmpDir(s);
      const r = await runCommand(s, process.execPath, [PREBUILD, '--out-dir', out], {
        cwd: ROOT,
        timeoutMs: 120_000,
      });
      assert.equal(r.code, 0, r.stderr);
      const files = ['x64', 'arm64'].map((a) => join(out, `linux-${a}`, 'shim-pump.node'));
      assert.equal(r.stdout, files.map((f) => `prebuild: ${f}\n`).join(''));
      // e_machine: EM_X86_64, EM_AARCH64.
      assert.deepEqual(
        files.map((f) => readFileSync(f).readUInt16LE(18)),
        [62, 183],
      );
    }));

  it('exits 1 naming the compiler and the package to install when one cannot build', async (t) =>
    withScope(t, async (s) => {
      const out = await tmpDir(s);
      const r = await runCommand(
        s,
        process.execPath,
        [PREBUILD, '--arch', 'arm64', '--out-dir', out],
        { cwd: ROOT, env: { PATH: '/nonexistent' } },
      );
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        'prebuild: linux-arm64 not built with aarch64-linux-gnu-gcc: burrow: native shim path not ' +
          'built (no C compiler (aarch64-linux-gnu-gcc)) (install gcc-aarch64-linux-gnu, or name a ' +
          'compiler in PREBUILD_CC_ARM64)\n',
      );
    }));

  it('refuses an unknown architecture or option with exit 2 and its usage', async (t) =>
    withScope(t, async (s) => {
      for (const args of [['--arch', 'riscv64'], ['--bogus']]) {
        const r = await runCommand(s, process.execPath, [PREBUILD, ...args], { cwd: ROOT });
        assert.equal(r.code, 2, r.stderr);
        assert.match(
          r.stderr,
          /^prebuild: .*\(usage: prebuild\.mjs \[--arch x64,arm64\] \[--out-dir DIR\]\)\n$/,
        );
        assert.equal(r.stdout, '');
      }
    }));
});
