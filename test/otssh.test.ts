/**
 * otssh with a real OpenSSH client: the lifecycle, every error message and exit status of
 * the otssh spec (the README table), authorized keys from a file and from stdin, shells with and without a pty, exec
 * status pass-through, the transcript, timeout, announce, and the relay mode through `ssh -J`.
 * Runs against the single binary (dist/bin/otssh); BURROW_TEST_OTSSH=source runs the sources.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import ssh2 from '../src/ssh/ssh2.js';
import { BINARIES, ensureBinaries } from './helpers/binaries.js';
import { startFleet } from './helpers/fleet.js';
import {
  freePort,
  generateKey,
  isAlive,
  type KeyPair,
  runCommand,
  type Scope,
  startProc,
  tmpDir,
  waitFor,
  withScope,
} from './helpers/index.js';
import { type OtsshKind, otsshClientArgs, runOtssh, ssh, startOtssh } from './helpers/otssh.js';
import { CLI_PATH } from './helpers/relay.js';

const KIND: OtsshKind = process.env.BURROW_TEST_OTSSH === 'source' ? 'source' : 'binary';

async function setup(s: Scope): Promise<{ dir: string; user: KeyPair; keys: string }> {
  const dir = await tmpDir(s);
  const user = await generateKey(dir, 'user');
  const keys = join(dir, 'authorized_keys');
  writeFileSync(keys, `${user.publicLine}\n`);
  return { dir, user, keys };
}

/** The error line, and that it is the only thing on stderr. */
function assertError(r: { code: number | null; stderr: string }, starts: string): void {
  assert.notEqual(r.code, 0, `non-zero exit: ${r.stderr}`);
  assert.ok(
    r.stderr.startsWith(starts),
    `stderr starts with "${starts}": ${JSON.stringify(r.stderr)}`,
  );
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
}

describe(`otssh (${KIND})`, () => {
  before(async () => {
    if (KIND === 'binary') await ensureBinaries();
  });

  it('serves one exec session: status and output pass through, then the port closes', async (t) =>
    withScope(t, async (s) => {
      const { dir, user, keys } = await setup(s);
      const port = await freePort();
      const o = await startOtssh(s, KIND, [`-port=${port}`, `-authorized-keys=${keys}`]);
      assert.match(o.keyLine, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA[A-Za-z0-9+/]+=*$/);
      const r = await ssh(s, [
        ...otsshClientArgs(dir, port, o.hostKey, user),
        'echo out; echo err >&2; exit 7',
      ]);
      assert.equal(r.code, 7, r.stderr);
      assert.equal(r.stdout, 'out\n');
      assert.match(r.stderr, /^err$/m);
      const exit = await o.proc.stopped();
      assert.equal(exit.code, 7, 'otssh exits with the session status');
      const again = await ssh(s, [...otsshClientArgs(dir, port, o.hostKey, user), 'true']);
      assert.equal(again.code, 255, 'nothing listens any more');
      const transcript = o.proc.output('stdout');
      assert.match(transcript, / start \{.*"command":"echo out; echo err >&2; exit 7"/);
      assert.match(transcript, / out "out\\n"/);
      assert.match(transcript, / err "err\\n"/);
      assert.match(transcript, / end \{"code":7/);
    }));

  it('reads keys from stdin, refuses a wrong key and keeps accepting, then serves a shell on a pty', async (t) =>
    withScope(t, async (s) => {
      const { dir, user } = await setup(s);
      const wrong = await generateKey(dir, 'wrong');
      const port = await freePort();
      const o = await startOtssh(s, KIND, ['--port', String(port), '--authorized-keys', '-'], {
        input: `${user.publicLine}\n`,
      });
      const denied = await ssh(s, [...otsshClientArgs(dir, port, o.hostKey, wrong), 'true']);
      assert.equal(denied.code, 255);
      assert.match(denied.stderr, /Permission denied/);
      assert.equal(o.proc.exit, undefined, 'still running after a failed login');
      const r = await ssh(s, ['-tt', ...otsshClientArgs(dir, port, o.hostKey, user)], {
        input: 'echo typed-$((6*7)); stty size\nexit 3\n',
      });
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stdout, /typed-42/);
      assert.match(r.stdout, /^24 80\r?$/m, 'a 0x0 pty request gets 80x24');
      assert.equal((await o.proc.stopped()).code, 3);
      const transcript = o.proc.output('stdout');
      assert.match(
        transcript,
        / in "echo typed-\$\(\(6\*7\)\); stty size\\nexit 3\\n"/,
        'what was typed',
      );
      assert.match(transcript, / out ".*typed-42/, 'what was printed');
      assert.match(transcript, /"pty":\{"cols":80,"rows":24/);
    }));

  it('runs with no Node on PATH and no node_modules around it (the binary)', async (t) =>
    withScope(t, async (s) => {
      const { dir, user, keys } = await setup(s);
      const port = await freePort();
      const bare = await tmpDir(s, 'burrow-no-node-');
      const o = await startOtssh(s, KIND, [`-port=${port}`, `-authorized-keys=${keys}`], {
        cwd: bare,
        env: { PATH: bare, SHELL: '/bin/bash', NODE_OPTIONS: undefined, NODE_PATH: undefined },
      });
      const r = await ssh(s, [
        ...otsshClientArgs(dir, port, o.hostKey, user),
        'command -v node || echo no-node-here; echo "PATH=$PATH"',
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `no-node-here\nPATH=${bare}\n`);
      assert.equal((await o.proc.stopped()).code, 0);
    }));

  it('runs a login shell without a pty, with the environment it was started with', async (t) =>
    withScope(t, async (s) => {
      const { dir, user, keys } = await setup(s);
      const port = await freePort();
      const o = await startOtssh(s, KIND, [`-port=${port}`, `-authorized-keys=${keys}`], {
        env: { OTSSH_MARK: 'copied', SHELL: '/bin/bash' },
      });
      const args = otsshClientArgs(dir, port, o.hostKey, user);
      const r = await ssh(s, ['-T', '-o', 'SetEnv=LC_ALL=C EVIL=1', ...args], {
        input: `echo "$OTSSH_MARK \${LC_ALL:-none} \${EVIL:-none} $0"; shopt -q login_shell && echo login\n`,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stdout,
        /^copied C none \S*bash$/m,
        'env copied; LC_ALL allowed; EVIL refused',
      );
      assert.match(r.stdout, /^login$/m);
    }));

  it('follows window changes of the pty', async (t) =>
    withScope(t, async (s) => {
      // OpenSSH sends window-change only from a real terminal; an ssh2 client sends it on demand.
      const { user, keys } = await setup(s);
      const port = await freePort();
      const o = await startOtssh(s, KIND, [`-port=${port}`, `-authorized-keys=${keys}`]);
      const client = new ssh2.Client();
      s.defer(() => void client.end(), 'ssh2 client');
      client.on('error', () => {});
      await new Promise<void>((resolve, reject) => {
        client.once('ready', () => resolve());
        client.once('error', reject);
        client.connect({
          host: '127.0.0.1',
          port,
          username: 'u',
          privateKey: readFileSync(user.path, 'utf8'),
          hostVerifier: (key: Buffer) => key.toString('base64') === o.hostKey.split(' ')[1],
        });
      });
      const stream = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
        client.shell({ cols: 100, rows: 30, term: 'xterm' }, (err, ch) =>
          err ? reject(err) : resolve(ch),
        ),
      );
      let out = '';
      stream.on('data', (d: Buffer) => {
        out += d.toString();
      });
      const exit = new Promise<number>((resolve) =>
        stream.on('exit', (code: number) => resolve(code)),
      );
      const waitOut = (re: RegExp) =>
        (async () => {
          const { waitFor } = await import('./helpers/wait.js');
          await waitFor(() => re.test(out), { what: `${re} in the session output` });
        })();
      // The prompt may come before the output (dash prints it before running typed-ahead input),
      // so the size is marked rather than anchored at a line start.
      stream.write('echo "size=$(stty size)"\n');
      await waitOut(/size=30 100\r?$/m);
      stream.setWindow(40, 120, 0, 0);
      stream.write('echo "size=$(stty size)"\n');
      await waitOut(/size=40 120\r?$/m);
      stream.write('exit 4\n');
      assert.equal(await exit, 4);
      client.end();
      assert.equal((await o.proc.stopped()).code, 4);
      assert.match(o.proc.output('stdout'), / resize "120x40"/);
    }));

  it('writes asciicast v2 that asciinema accepts', async (t) =>
    withScope(t, async (s) => {
      const { dir, user, keys } = await setup(s);
      const port = await freePort();
      const cast = join(dir, 'session.cast');
      const o = await startOtssh(s, KIND, [
        `-port=${port}`,
        `-authorized-keys=${keys}`,
        `-log=${cast}`,
        '--log-format',
        'asciicast',
      ]);
      const r = await ssh(s, ['-tt', ...otsshClientArgs(dir, port, o.hostKey, user)], {
        input: 'echo cast-$((40+2))\nexit\n',
      });
      assert.equal(r.code, 0, r.stderr);
      await o.proc.stopped();
      const lines = readFileSync(cast, 'utf8').trim().split('\n');
      assert.equal(JSON.parse(lines[0]!).version, 2);
      assert.ok(
        lines.some((l) => /^\[[\d.]+, "i", /.test(l)),
        'input events',
      );
      // asciinema cat needs a terminal: give it one with script(1).
      const play = await runCommand(s, 'script', ['-qec', `asciinema cat '${cast}'`, '/dev/null']);
      assert.equal(play.code, 0, play.stderr);
      assert.match(play.stdout, /cast-42/);
    }));

  it('times out with no session: a message on stderr, exit 0', async (t) =>
    withScope(t, async (s) => {
      const { keys } = await setup(s);
      const r = await runOtssh(s, KIND, ['-port=0', `-authorized-keys=${keys}`, '-timeout=1']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /^Timeout: no authenticated session within 1 seconds\n$/);
    }));

  it('is also `burrow otssh`, with the same flags', async (t) =>
    withScope(t, async (s) => {
      const { keys } = await setup(s);
      const [cmd, pre] = KIND === 'binary' ? [BINARIES.burrow, []] : [process.execPath, [CLI_PATH]];
      const r = await runCommand(s, cmd, [
        ...pre,
        'otssh',
        '-port=0',
        `--authorized-keys=${keys}`,
        '--timeout',
        '1',
        '--announce-format',
        'known-hosts',
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^\* ssh-ed25519 /, 'port 0: a line for any host and port');
      assert.match(r.stderr, /^Timeout: no authenticated session within 1 seconds\n$/);
      const bad = await runCommand(s, cmd, [...pre, 'otssh', '-authorized-keys=/nonexistent']);
      assertError(bad, 'authorized keys invalid: /nonexistent');
    }));

  it('announces the host key once listening; a client verifies it from that line', async (t) =>
    withScope(t, async (s) => {
      const { dir, user, keys } = await setup(s);
      const port = await freePort();
      const got = join(dir, 'announced');
      const hook = join(dir, 'announce.sh');
      // The hook proves the port is open when it runs, and records its single argument.
      writeFileSync(
        hook,
        `#!/bin/sh\n[ $# -eq 1 ] || exit 9\nnc -z 127.0.0.1 ${port} || exit 8\nprintf '%s\\n' "$1" > ${got}\n`,
      );
      chmodSync(hook, 0o755);
      const o = await startOtssh(s, KIND, [
        `-port=${port}`,
        `-authorized-keys=${keys}`,
        `-announce=${hook}`,
      ]);
      await waitFile(got);
      const line = readFileSync(got, 'utf8').trim();
      assert.equal(line, o.keyLine);
      const r = await ssh(s, [...otsshClientArgs(dir, port, line, user), 'echo verified']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'verified\n');
    }));

  it('--announce-format known-hosts prints and announces a line known_hosts takes as it is', async (t) =>
    withScope(t, async (s) => {
      const { dir, user, keys } = await setup(s);
      const port = await freePort();
      const got = join(dir, 'announced');
      const hook = join(dir, 'announce.sh');
      writeFileSync(hook, `#!/bin/sh\nprintf '%s\\n' "$1" > ${got}\n`, { mode: 0o755 });
      const o = await startOtssh(s, KIND, [
        `-port=${port}`,
        `-authorized-keys=${keys}`,
        `-announce=${hook}`,
        '-announce-format=known-hosts',
      ]);
      assert.equal(o.keyLine, `[*]:${port} ${o.hostKey}`);
      await waitFile(got);
      assert.equal(readFileSync(got, 'utf8').trim(), o.keyLine);
      const args = otsshClientArgs(dir, port, o.hostKey, user);
      // The announced line, verbatim, is the whole known_hosts file.
      writeFileSync(join(dir, `known_hosts_${port}`), `${o.keyLine}\n`);
      const r = await ssh(s, [...args, 'echo verified']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'verified\n');
    }));

  it('gives each error its message and a non-zero status', async (t) =>
    withScope(t, async (s) => {
      const { dir, keys } = await setup(s);
      const empty = join(dir, 'empty');
      writeFileSync(empty, '# nothing\n');
      const garbage = join(dir, 'garbage');
      writeFileSync(garbage, 'ssh-ed25519 not-base64!!\n');
      const notExec = join(dir, 'not-exec');
      writeFileSync(notExec, '#!/bin/sh\n');
      const failing = join(dir, 'failing');
      writeFileSync(failing, '#!/bin/sh\necho "no route to chat" >&2\nexit 4\n', { mode: 0o755 });
      mkdirSync(join(dir, 'a-dir'));
      const busy = createServer();
      await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
      s.defer(() => new Promise<void>((r) => busy.close(() => r())), 'busy port');
      const busyPort = (busy.address() as { port: number }).port;
      const k = `-authorized-keys=${keys}`;
      const cases: [string[], string][] = [
        [['-authorized-keys=/nonexistent/keys'], 'authorized keys invalid: /nonexistent/keys'],
        [
          [`-authorized-keys=${join(dir, 'a-dir')}`],
          `authorized keys invalid: ${join(dir, 'a-dir')}`,
        ],
        [[`-authorized-keys=${empty}`], `authorized keys invalid: ${empty}`],
        [[`-authorized-keys=${garbage}`], `authorized keys invalid: ${garbage}`],
        [['-port=0', k, '-announce=no-such-command-xyz'], 'Invalid announce command'],
        [['-port=0', k, `-announce=${notExec}`], 'Invalid announce command'],
        [['-port=0', k, `-announce=${failing}`], 'Announce failed: 4 no route to chat'],
        [[`-port=${busyPort}`, '-host=127.0.0.1', k], 'Could not bind to port'],
        [['-port=0', k, `-log=${join(dir, 'no-dir', 'log')}`], 'Could not write to log file'],
      ];
      for (const [args, starts] of cases) {
        const r = await runOtssh(s, KIND, args);
        assertError(r, starts);
      }
      const stdin = await runOtssh(s, KIND, ['-port=0', '-authorized-keys=-'], { input: '' });
      assertError(stdin, 'authorized keys invalid: -');
      const usage = await runOtssh(s, KIND, ['-bogus=1', k]);
      assert.equal(usage.code, 2);
      assert.match(usage.stderr, /unknown option/);
    }));

  it('reports a client that drops the session, and a transcript that cannot be written', async (t) =>
    withScope(t, async (s) => {
      const { dir, user, keys } = await setup(s);
      const port = await freePort();
      const o = await startOtssh(s, KIND, [`-port=${port}`, `-authorized-keys=${keys}`]);
      const client = ssh(s, [...otsshClientArgs(dir, port, o.hostKey, user), 'sleep 30'], {
        timeoutMs: 2000, // killed (with its connection) after 2 s
      });
      await client;
      const exit = await o.proc.stopped();
      assert.notEqual(exit.code, 0);
      assertError(
        { code: exit.code, stderr: o.proc.output('stderr') },
        'Connection closed unexpectedly',
      );

      const port2 = await freePort();
      const full = await startOtssh(s, KIND, [
        `-port=${port2}`,
        `-authorized-keys=${keys}`,
        '-log=/dev/full',
      ]);
      const r = await ssh(s, [
        ...otsshClientArgs(dir, port2, full.hostKey, user),
        'echo hi; sleep 20',
      ]);
      assert.notEqual(r.code, 0, 'the session is ended, not left running unrecorded');
      const fexit = await full.proc.stopped();
      assert.notEqual(fexit.code, 0);
      assertError(
        { code: fexit.code, stderr: full.proc.output('stderr') },
        'Could not write to log file',
      );
    }));

  it('on SIGTERM ends the session and its program', async (t) =>
    withScope(t, async (s) => {
      const { dir, user, keys } = await setup(s);
      const port = await freePort();
      const o = await startOtssh(s, KIND, [`-port=${port}`, `-authorized-keys=${keys}`]);
      const client = startProc(s, 'ssh', [
        ...otsshClientArgs(dir, port, o.hostKey, user),
        'echo $$; exec sleep 60',
      ]);
      const pid = Number((await client.waitForLine(/^\d+$/, { stream: 'stdout' }))[0]);
      assert.ok(isAlive(pid));
      o.proc.signal('SIGTERM');
      const exit = await o.proc.stopped();
      assert.equal(exit.code, 143);
      assert.match(o.proc.output('stderr'), /stopped by SIGTERM/);
      await waitFor(() => !isAlive(pid), { what: 'the session program to be gone' });
      assert.equal((await client.stopped()).code, 255);
    }));

  it('registers on a relay; the client comes in with ssh -J', async (t) =>
    withScope(t, async (s) => {
      const { fleet, o } = await startOtsshOnRelay(s);
      const r = await fleet.op.run(['box1', 'echo via-relay; exit 5']);
      assert.equal(r.code, 5, r.stderr);
      assert.equal(r.stdout, 'via-relay\n');
      assert.equal((await o.proc.stopped()).code, 5);
    }));

  it('registers again when its relay restarts before the session (kill -9, started again)', async (t) =>
    withScope(t, async (s) => {
      const { fleet, relay, o } = await startOtsshOnRelay(s);
      await relay.kill();
      await o.proc.waitForLine(
        /^otssh: lost the relay 127\.0\.0\.1:\d+ \(.+\); registering box1 again$/,
        {
          stream: 'stderr',
        },
      );
      await relay.start();
      await o.proc.waitForLine(/^otssh: registered box1 on 127\.0\.0\.1:\d+ again$/, {
        stream: 'stderr',
        timeoutMs: 20_000,
      });
      const r = await fleet.op.run(['box1', 'echo after-restart; exit 3']);
      assert.equal(r.code, 3, r.stderr);
      assert.equal(r.stdout, 'after-restart\n');
      assert.equal((await o.proc.stopped()).code, 3);
    }));
});

/**
 * A fleet with one relay, and otssh registered on it as `box1` (relay only); the operator's ssh
 * reaches box1 with -J through the relay and trusts otssh's host key.
 */
async function startOtsshOnRelay(s: Scope) {
  const fleet = await startFleet(s, {
    relays: 1,
    policy: (dev, op) => [`permitlisten="box1:22" ${dev}`, `permitopen="box1:22" ${op}`],
  });
  const relay = fleet.relays[0]!;
  const keys = join(fleet.dir, 'otssh_keys');
  writeFileSync(keys, `${fleet.opKey.publicLine}\n`);
  // The announce command runs once the name is registered: that is the client's cue.
  const announced = join(fleet.dir, 'announced');
  const hook = join(fleet.dir, 'announce.sh');
  writeFileSync(hook, `#!/bin/sh\nprintf '%s\\n' "$1" > ${announced}\n`, { mode: 0o755 });
  const o = await startOtssh(s, KIND, [
    `-announce=${hook}`,
    `-authorized-keys=${keys}`,
    `--relay=${relay.id}`,
    '--name=box1',
    `--identity=${fleet.devKey.path}`,
    `--known-hosts=${fleet.knownHosts}`,
  ]);
  assert.equal(o.keyLine, o.hostKey, 'the bare key, as the spec shows it');
  await waitFile(announced);
  fleet.op.addHost({ alias: 'box1', hostName: null, user: 'root', proxyJump: relay.alias });
  fleet.op.addKnownHostsLine(`box1 ${o.hostKey}`);
  return { fleet, relay, o };
}

async function waitFile(path: string): Promise<void> {
  const { waitFor } = await import('./helpers/wait.js');
  await waitFor(
    () => {
      try {
        return readFileSync(path, 'utf8').length > 0;
      } catch {
        return false;
      }
    },
    { what: `${path} to be written` },
  );
}
