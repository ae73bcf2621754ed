/**
 * The single executables (`npm run build:binary`): dist/bin/burrow and dist/bin/otssh run on a
 * machine with no Node and no node_modules, which the tests imitate: the executables are copied
 * into a fresh directory and run there with an environment that inherits nothing and whose PATH
 * has no `node`. The native pty addon is exercised through a probe executable built from
 * test/fixtures/pty-probe.ts by the same build script (the CLIs have no hidden self-test mode);
 * ssh2's pooled padding source through another, from test/fixtures/ssh2-pool-probe.ts; the shim's
 * native byte path (shim-pump.node, embedded with its sha256) through test/fixtures/shim-pump-probe.ts.
 *
 * Builds the executables when missing or stale (helpers/binaries.ts). The first build ever
 * downloads the Node runtime (about 57 MB from the npm registry); later builds take seconds.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  constants,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../src/cli/version.js';
import { BINARIES, ensureBinaries } from './helpers/binaries.js';
import { generateKey, runCommand, type Scope, tmpDir, withScope } from './helpers/index.js';
import { execStartArgv } from './helpers/unit.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUILD_SCRIPT = join(ROOT, 'scripts', 'build-binary.mjs');
/** Generous: the first build downloads the runtime. */
const BUILD_TIMEOUT_MS = 600_000;

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

interface Machine {
  /** The working directory: a fresh temp dir, no node_modules in it or above it. */
  dir: string;
  /** TMPDIR of the programs run there (empty at the start). */
  tmp: string;
  /** Replaces the whole environment: nothing inherited, no node on PATH. */
  env: Record<string, string | undefined>;
}

/**
 * A temp dir standing in for a machine without Node: PATH is /usr/bin and /bin minus every
 * directory holding a `node`, plus a directory with a shell, so it is never empty.
 */
async function machineWithoutNode(scope: Scope): Promise<Machine> {
  const dir = await tmpDir(scope, 'burrow-binary-');
  const tools = join(dir, 'tools');
  const tmp = join(dir, 'tmp');
  mkdirSync(tools);
  mkdirSync(tmp, { mode: 0o700 });
  await symlink('/bin/sh', join(tools, 'sh'));
  const path = [tools, ...['/usr/bin', '/bin'].filter((d) => !isExecutable(join(d, 'node')))];
  const env: Record<string, string | undefined> = {};
  for (const key of Object.keys(process.env)) env[key] = undefined;
  Object.assign(env, { PATH: path.join(':'), HOME: dir, TMPDIR: tmp, LANG: 'C.UTF-8' });
  for (let d = dir; d !== dirname(d); d = dirname(d)) {
    assert.ok(!existsSync(join(d, 'node_modules')), `${d} has a node_modules`);
  }
  const which = await runCommand(scope, '/bin/sh', ['-c', 'command -v node'], { env, cwd: dir });
  assert.notEqual(which.code, 0, `node is still on PATH: ${which.stdout}`);
  return { dir, tmp, env };
}

/** Runs `cmd` in the machine's directory with its environment. */
function runThere(scope: Scope, machine: Machine, cmd: string, args: string[]) {
  return runCommand(scope, cmd, args, { env: machine.env, cwd: machine.dir });
}

/** Copies an executable into the machine's directory, away from the checkout's node_modules. */
function install(machine: Machine, binary: string): string {
  const target = join(machine.dir, binary.split('/').pop()!);
  copyFileSync(binary, target);
  return target;
}

/**
 * Builds test/fixtures/NAME.ts into an executable in the machine's directory; `env` is added to
 * the build's environment. Returns its path and the build's stdout.
 */
async function buildProbeLogged(
  scope: Scope,
  machine: Machine,
  name: string,
  env: Record<string, string> = {},
): Promise<{ path: string; log: string }> {
  const output = join(machine.dir, name);
  const built = await runCommand(
    scope,
    process.execPath,
    [BUILD_SCRIPT, '--entry', `test/fixtures/${name}.ts`, '--output', output],
    { cwd: ROOT, env, timeoutMs: BUILD_TIMEOUT_MS },
  );
  assert.equal(built.code, 0, `building ${name} failed:\n${built.stdout}${built.stderr}`);
  return { path: output, log: built.stdout };
}

async function buildProbe(scope: Scope, machine: Machine, name: string): Promise<string> {
  return (await buildProbeLogged(scope, machine, name)).path;
}

/** What test/fixtures/shim-pump-probe.ts printed, after asserting it exited 0. */
async function runPumpProbe(
  scope: Scope,
  machine: Machine,
  probe: string,
): Promise<{ reason?: string; ended?: number; wireBytes?: number; expected?: number }> {
  const r = await runThere(scope, machine, probe, []);
  assert.equal(r.code, 0, `shim-pump-probe failed:\n${r.stdout}${r.stderr}`);
  assert.equal(r.stderr, '');
  assert.deepEqual(readdirSync(machine.tmp), [], 'the extracted addon and its dir are removed');
  return JSON.parse(r.stdout);
}

describe('single executables (npm run build:binary)', { timeout: BUILD_TIMEOUT_MS }, () => {
  it('burrow runs with no node on PATH and no node_modules', (t) =>
    withScope(t, async (s) => {
      await ensureBinaries();
      const machine = await machineWithoutNode(s);
      const burrow = install(machine, BINARIES.burrow);
      const version = await runThere(s, machine, burrow, ['--version']);
      assert.equal(version.code, 0, version.stderr);
      assert.equal(version.stdout.trim(), VERSION);
      assert.equal(version.stderr, '', 'no warning (experimental SEA or otherwise)');

      const help = await runThere(s, machine, burrow, ['relay', '--help']);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /^Usage: burrow relay /);
      assert.deepEqual(readdirSync(machine.tmp), [], 'nothing left in TMPDIR');
    }));

  it('otssh starts with no node on PATH and no node_modules', (t) =>
    withScope(t, async (s) => {
      await ensureBinaries();
      const machine = await machineWithoutNode(s);
      const otssh = install(machine, BINARIES.otssh);
      const help = await runThere(s, machine, otssh, ['--help']);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /^Usage: otssh /);
    }));

  it('burrow answers as the shim under the name burrow-shim (a symlink), found on PATH as scp -S finds it', (t) =>
    withScope(t, async (s) => {
      await ensureBinaries();
      const machine = await machineWithoutNode(s);
      install(machine, BINARIES.burrow);
      install(machine, BINARIES.otssh);
      await symlink('burrow', join(machine.dir, 'burrow-shim'));
      const env = { ...machine.env, PATH: `${machine.dir}:${machine.env.PATH}` };
      const run = (cmd: string, args: string[]) =>
        runCommand(s, cmd, args, { env, cwd: machine.tmp });

      const help = await run('burrow-shim', ['--help']);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /^usage: burrow shim \[ssh options\]/);
      const none = await run('burrow-shim', []);
      assert.equal(none.code, 2, 'called with nothing, as ssh would be: usage and exit 2');
      assert.match(none.stderr, /^usage: burrow shim/);
      // Under its own name it is still the dispatcher.
      const main = await run('burrow', ['--help']);
      assert.match(main.stdout, /^Usage: burrow \[options\] \[command\]/);
      const otssh = await run('otssh', ['--version']);
      assert.equal(otssh.stdout.trim(), VERSION);
    }));

  it('burrow shim moves a session through its embedded native byte path at both ends', (t) =>
    withScope(t, async (s) => {
      await ensureBinaries();
      const machine = await machineWithoutNode(s);
      const burrow = install(machine, BINARIES.burrow);
      // In place of ssh: run the remote command (the last argument) here, on pipes, as sshd would.
      const fakeSsh = join(machine.dir, 'local-ssh');
      writeFileSync(fakeSsh, '#!/bin/sh\nfor last; do :; done\nexec sh -c "$last"\n');
      chmodSync(fakeSsh, 0o755);
      const data = randomBytes(3 * 1024 * 1024);
      const out = join(machine.dir, 'out');
      const r = await runCommand(
        s,
        burrow,
        ['shim', 'dev', `/bin/cat > ${out}; echo done; exit 3`],
        {
          env: {
            ...machine.env,
            BURROW_SHIM_SSH: fakeSsh,
            BURROW_SHIM_NATIVE: 'require',
            BURROW_SHIM_REMOTE: `BURROW_SHIM_NATIVE=require BURROW_DATA_DIR=${machine.dir}/data ${burrow} shim --serve`,
          },
          cwd: machine.dir,
          input: data,
        },
      );
      assert.equal(r.code, 3, r.stderr);
      assert.equal(r.stdout, 'done\n');
      assert.equal(r.stderr, '');
      assert.ok(readFileSync(out).equals(data), 'the remote got stdin byte for byte');
    }));

  it('burrow agent systemd-unit names the executable alone in ExecStart, however it was started', (t) =>
    withScope(t, async (s) => {
      await ensureBinaries();
      const machine = await machineWithoutNode(s);
      const burrow = install(machine, BINARIES.burrow);
      const env = { ...machine.env, PATH: `${machine.dir}:${machine.env.PATH}` };
      const args = ['agent', 'systemd-unit', '--name', 'dev1', '--relay', 'r1.example'];
      const key = await generateKey(machine.dir, 'dev');
      const flags = ['--identity', key.path, '--forward', '2222=127.0.0.1:22'];
      // From PATH (argv[0] a bare name) and by its path, from its own directory.
      for (const cmd of ['burrow', burrow]) {
        const unit = await runCommand(s, cmd, [...args, ...flags], { env, cwd: machine.dir });
        assert.equal(unit.code, 0, unit.stderr);
        const argv = execStartArgv(unit.stdout);
        assert.deepEqual(argv.slice(0, 2), [burrow, 'agent'], `started as ${cmd}`);
        const help = await runThere(s, machine, argv[0]!, [...argv.slice(1), '--help']);
        assert.equal(help.code, 0, help.stderr);
        assert.match(help.stdout, /^Usage: burrow agent /);
      }
    }));

  it('loads the embedded node-pty addon: a probe runs echo under a pty', (t) =>
    withScope(t, async (s) => {
      const machine = await machineWithoutNode(s);
      const probe = await buildProbe(s, machine, 'pty-probe');
      const r = await runThere(s, machine, probe, []);
      assert.equal(r.code, 0, `pty-probe failed:\n${r.stdout}${r.stderr}`);
      const result = JSON.parse(r.stdout) as { output: string; exitCode: number };
      // A terminal turns \n into \r\n: the bytes went through a real pty.
      assert.deepEqual(result, { output: 'pty-probe-ok\r\n', exitCode: 0 });
      assert.deepEqual(readdirSync(machine.tmp), [], 'the extracted addon and its dir are removed');
    }));

  it('loads the embedded shim-pump.node, checked against its sha256: a probe moves bytes through it', (t) =>
    withScope(t, async (s) => {
      const machine = await machineWithoutNode(s);
      const probe = await buildProbe(s, machine, 'shim-pump-probe');
      const result = await runPumpProbe(s, machine, probe);
      assert.deepEqual(result, { ended: 200_000, wireBytes: 200_070, expected: 200_070 });

      // The addon build-native.mjs makes here is the one embedded (the build is deterministic):
      // one byte of it changed in a copy of the probe fails the sha256 check before any load.
      const addon = join(await tmpDir(s, 'burrow-pump-'), 'shim-pump.node');
      const native = await runCommand(
        s,
        process.execPath,
        [join(ROOT, 'scripts', 'build-native.mjs'), '--strict', '--output', addon],
        { cwd: ROOT },
      );
      assert.equal(native.code, 0, `${native.stdout}${native.stderr}`);
      const bytes = readFileSync(probe);
      const embedded = readFileSync(addon);
      const offset = bytes.indexOf(embedded);
      assert.ok(offset > 0, 'the probe embeds shim-pump.node');
      bytes[offset + Math.floor(embedded.length / 2)]! ^= 0xff;
      const corrupted = join(machine.dir, 'corrupted-probe');
      writeFileSync(corrupted, bytes, { mode: 0o755 });
      assert.deepEqual(await runPumpProbe(s, machine, corrupted), {
        reason:
          'the embedded shim-pump.node does not load: the embedded shim-pump.node fails its sha256 check',
      });
    }));

  it('built without a C compiler: one line says so, and the shim is left its JavaScript path', (t) =>
    withScope(t, async (s) => {
      const machine = await machineWithoutNode(s);
      const probe = await buildProbeLogged(s, machine, 'shim-pump-probe', { CC: 'false' });
      assert.deepEqual(
        probe.log.split('\n').filter((l) => /shim-pump\.node|native shim/.test(l)),
        [
          'build-binary: shim-pump.node not embedded: burrow: native shim path not built (no C compiler (false)); the shim uses its JavaScript path',
        ],
      );
      assert.deepEqual(await runPumpProbe(s, machine, probe.path), {
        reason:
          'the embedded shim-pump.node does not load: this executable was built without shim-pump.node',
      });
    }));

  it('bundles ssh2 after its random source is swapped: padding comes from the pool', (t) =>
    withScope(t, async (s) => {
      const machine = await machineWithoutNode(s);
      const probe = await buildProbe(s, machine, 'ssh2-pool-probe');
      const r = await runThere(s, machine, probe, []);
      assert.equal(r.code, 0, `ssh2-pool-probe failed:\n${r.stdout}${r.stderr}`);
      const { pooledBytes } = JSON.parse(r.stdout) as { pooledBytes: number };
      // At least both sides' KEXINIT cookies (16 bytes each), then every packet's padding.
      assert.ok(pooledBytes >= 2 * 16, `ssh2 drew only ${pooledBytes} bytes from the pool`);
    }));
});
