/**
 * burrow installed as the README says (`npm install -g .` from the clone, into a temp prefix):
 * the three commands on PATH, the shim's documented forms run literally through a relay to a
 * device whose sessions find the installed `burrow`, and the agent's systemd unit started through
 * the installed command has an ExecStart that runs. The install builds the shim's native byte path
 * (postinstall), and the installed package loads it. A package made with `npm pack` carries that
 * path prebuilt for linux-x64 and linux-arm64, and installed where nothing compiles, it loads the
 * prebuilt one (README "Install").
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { VERSION } from '../src/cli/version.js';
import { generateKey, runCommand, tmpDir, withScope } from './helpers/index.js';
import {
  INSTALLED_COMMANDS,
  installBurrow,
  installedIn,
  npmGlobalEnv,
  REPO_ROOT,
} from './helpers/install.js';
import { startShimWorld } from './helpers/shim.js';
import { execStartArgv } from './helpers/unit.js';

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('installed with npm install -g . (README "Install")', () => {
  it('puts burrow, burrow-shim and otssh on PATH, and each runs; builds the native byte path', async (t) =>
    withScope(t, async (s) => {
      // File times come from a coarser clock than Date.now(): a little slack.
      const started = Date.now() - 50;
      const install = await installBurrow(s);
      const pkg = join(install.prefix, 'lib', 'node_modules', 'burrow');
      const addon = join(pkg, 'native', 'build', 'shim-pump.node');
      assert.ok(statSync(addon).mtimeMs >= started, `${addon} was built by this install`);
      // The installed module, run from elsewhere, finds it where it is by default.
      const probe = `const m = await import(${JSON.stringify(pathToFileURL(join(pkg, 'dist/src/shim/native-pump.js')).href)});
const l = m.loadNativePump();
console.log(JSON.stringify({ path: m.NATIVE_PUMP_PATH, loaded: l.pump !== undefined, reason: l.reason }));`;
      const loaded = await runCommand(s, process.execPath, ['--input-type=module', '-e', probe], {
        cwd: await tmpDir(s),
      });
      assert.equal(loaded.code, 0, loaded.stderr);
      assert.deepEqual(JSON.parse(loaded.stdout), { path: realpathSync(addon), loaded: true });

      const env = { PATH: install.path };
      for (const name of INSTALLED_COMMANDS) {
        const which = await runCommand(s, '/bin/sh', ['-c', `command -v ${name}`], { env });
        assert.equal(which.stdout.trim(), join(install.bin, name), `${name} on PATH`);
      }
      const version = await runCommand(s, 'burrow', ['--version'], { env });
      assert.equal(version.code, 0, version.stderr);
      assert.equal(version.stdout.trim(), VERSION);

      const shim = await runCommand(s, 'burrow-shim', ['--help'], { env });
      assert.equal(shim.code, 0, shim.stderr);
      assert.match(shim.stdout, /^usage: burrow shim \[ssh options\]/);
      assert.match(shim.stdout, /scp -S burrow-shim /);
      const noArgs = await runCommand(s, 'burrow-shim', [], { env });
      assert.equal(noArgs.code, 2, 'called with nothing, as ssh would be: usage and exit 2');

      const otssh = await runCommand(s, 'otssh', ['--help'], { env });
      assert.equal(otssh.code, 0, otssh.stderr);
      assert.match(otssh.stdout, /^Usage: otssh /);
      const otsshVersion = await runCommand(s, 'otssh', ['--version'], { env });
      assert.equal(otsshVersion.stdout.trim(), VERSION);

      const help = await runCommand(s, 'burrow', ['--help'], { env });
      assert.match(
        help.stdout,
        /otssh\s+one-time audited SSH server \(also `otssh` once\s+installed\)/,
      );
    }));

  it("runs the documented shim forms literally: scp -S burrow-shim (SFTP, -O), rsync -e burrow-shim and -e 'burrow shim'", async (t) =>
    withScope(t, async (s) => {
      const install = await installBurrow(s);
      const w = await startShimWorld(s, { install });
      const dir = await tmpDir(s);
      const src = join(dir, 'src');
      mkdirSync(src);
      writeFileSync(join(src, 'a.bin'), randomBytes(3 * 1024 * 1024));
      writeFileSync(join(src, 'b.txt'), 'hello\n');
      const file = join(src, 'a.bin');
      const run = (cmd: string, args: string[]) =>
        runCommand(s, cmd, args, { env: w.env, timeoutMs: 60_000 });

      for (const mode of [[], ['-O']]) {
        const dst = join(dir, `scp${mode.join('')}.bin`);
        const r = await run('scp', [...mode, '-S', 'burrow-shim', file, `dev1:${dst}`]);
        assert.equal(r.code, 0, `scp ${mode.join(' ')} -S burrow-shim: ${r.stderr}`);
        assert.equal(sha256(dst), sha256(file), `scp ${mode.join(' ')}`);
      }
      for (const transport of ['burrow-shim', 'burrow shim']) {
        const dst = join(dir, `rsync-${transport.replace(' ', '-')}`);
        const r = await run('rsync', ['-a', '-e', transport, `${src}/`, `dev1:${dst}/`]);
        assert.equal(r.code, 0, `rsync -a -e '${transport}': ${r.stderr}`);
        for (const name of ['a.bin', 'b.txt']) {
          assert.equal(sha256(join(dst, name)), sha256(join(src, name)), `${transport}: ${name}`);
        }
      }
      // The device ran the installed `burrow shim --serve` from its PATH, with its default data
      // dir (~/.burrow): the holders' socket directory is there.
      assert.ok(existsSync(join(w.remoteDataDir, 'shim')), `${w.remoteDataDir}/shim exists`);
    }));

  it('burrow agent systemd-unit, run as the installed command, writes an ExecStart that runs', async (t) =>
    withScope(t, async (s) => {
      const install = await installBurrow(s);
      const dir = await tmpDir(s);
      const key = await generateKey(dir, 'dev');
      const unit = await runCommand(
        s,
        'burrow',
        [
          'agent',
          'systemd-unit',
          '--name',
          'dev1',
          '--relay',
          'r1.example',
          '--identity',
          key.path,
          '--forward',
          '2222=127.0.0.1:22',
        ],
        { env: { PATH: install.path } },
      );
      assert.equal(unit.code, 0, unit.stderr);
      const argv = execStartArgv(unit.stdout);
      // Absolute, and not through the install's bin symlink: node and the real script.
      assert.deepEqual(argv.slice(0, 3), [
        realpathSync(process.execPath),
        realpathSync(join(REPO_ROOT, 'dist/src/cli/main.js')),
        'agent',
      ]);
      // systemd runs it with no PATH of ours: an empty environment here.
      const env: Record<string, string | undefined> = {};
      for (const k of Object.keys(process.env)) env[k] = undefined;
      const help = await runCommand(s, argv[0]!, [...argv.slice(1), '--help'], { env });
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /^Usage: burrow agent /);
    }));

  it('npm pack carries the native byte path prebuilt for linux-x64 and linux-arm64; a tarball installed where nothing compiles loads its own', async (t) =>
    withScope(t, async (s) => {
      // The README's commands, as written there, run in the clone.
      const tarball = `burrow-${VERSION}.tgz`;
      const commands = ['npm pack', `npm install -g ./${tarball}`];
      assert.ok(
        readFileSync(join(REPO_ROOT, 'README.md'), 'utf8').includes(`${commands.join('\n')}\n`),
        `the README shows: ${commands.join('; ')}`,
      );
      s.defer(() => rmSync(join(REPO_ROOT, tarball), { force: true }), `remove ${tarball}`);
      const prefix = await tmpDir(s, 'burrow-install-');
      const env = npmGlobalEnv(prefix);
      // A machine where nothing compiles: the install's build finds no C compiler, ssh2's and
      // cpu-features' optional builds fail too. Dependencies come from npm's cache when it has them.
      const noCompiler = {
        CC: '/nonexistent/cc',
        CXX: '/nonexistent/c++',
        npm_config_prefer_offline: 'true',
      };
      for (const [i, command] of commands.entries()) {
        const [cmd, ...args] = command.split(' ');
        const r = await runCommand(s, cmd!, args, {
          cwd: REPO_ROOT,
          env: i === 0 ? env : { ...env, ...noCompiler },
          timeoutMs: 300_000,
        });
        assert.equal(r.code, 0, `${command}:\n${r.stdout}${r.stderr}`);
      }
      const pkg = join(prefix, 'lib', 'node_modules', 'burrow');
      assert.equal(
        existsSync(join(pkg, 'native', 'build', 'shim-pump.node')),
        false,
        'nothing compiled',
      );
      for (const [arch, machine] of [
        ['x64', 62],
        ['arm64', 183],
      ] as const) {
        const file = join(pkg, 'prebuilds', `linux-${arch}`, 'shim-pump.node');
        assert.equal(
          readFileSync(file).readUInt16LE(18),
          machine,
          `${file}: an ELF object for ${arch}`,
        );
      }
      const probe = `const m = await import(${JSON.stringify(pathToFileURL(join(pkg, 'dist/src/shim/native-pump.js')).href)});
const l = m.loadNativePump();
console.log(JSON.stringify({ where: l.where, reason: l.reason }));`;
      const loaded = await runCommand(s, process.execPath, ['--input-type=module', '-e', probe], {
        cwd: await tmpDir(s),
      });
      assert.equal(loaded.code, 0, loaded.stderr);
      assert.deepEqual(JSON.parse(loaded.stdout), {
        where: join(pkg, 'prebuilds', 'linux-x64', 'shim-pump.node'),
      });

      // Both ends run the installed commands with BURROW_SHIM_NATIVE=require: a shim that could
      // not load the prebuilt addon would refuse to start.
      const install = installedIn(prefix);
      const w = await startShimWorld(s, { install, bytePath: 'native' });
      const dir = await tmpDir(s);
      const src = join(dir, 'src.bin');
      writeFileSync(src, randomBytes(3 * 1024 * 1024));
      const dst = join(dir, 'dst.bin');
      const r = await runCommand(s, 'rsync', ['-e', 'burrow-shim', src, `dev1:${dst}`], {
        env: w.env,
        timeoutMs: 60_000,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(sha256(dst), sha256(src));
    }));
});
