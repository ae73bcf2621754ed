/**
 * The cases of `burrow shim` through a real burrow relay to a real sshd (the device registered by
 * `burrow agent`), with real rsync and scp: transfers that survive cut connections and relay
 * restarts, exit statuses, the resume window, and who may attach to a held session. Run on each
 * byte path (test/shim.test.ts, test/shim-javascript.test.ts).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { it, type TestContext } from 'node:test';
import { FrameDecoder } from '../../src/shim/frame-decoder.js';
import { encodeFrame } from '../../src/shim/frames.js';
import { runCommand, sha256File, tmpDir, waitFor, withScope } from './index.js';
import { installBurrow } from './install.js';
import { withEnvEntry } from './reaper.js';
import { CLI_PATH } from './relay.js';
import {
  type BytePath,
  cutAsItGrows,
  reachedSize,
  reconnects,
  startShimProc,
  startShimWorld,
} from './shim.js';
import { frameReader, resumeHello, startHeldSession } from './shim-protocol.js';

/** A file of `mib` MiB of random bytes (one random MiB repeated with a counter, to be quick). */
function bigFile(path: string, mib: number): void {
  const block = randomBytes(1024 * 1024);
  const parts: Buffer[] = [];
  for (let i = 0; i < mib; i++) {
    const b = Buffer.from(block);
    b.writeUInt32BE(i, 0);
    parts.push(b);
  }
  writeFileSync(path, Buffer.concat(parts));
}

/**
 * Starts `rsync -e burrow-shim` (burrow as installed, in a world started with `install`) at
 * `bwlimit` (slow enough to span the faults a test injects): a new file of `mib` MiB sent to dev1,
 * or with `pull` fetched from it. Returns the running rsync and both paths (both sides are this
 * machine).
 */
async function startShimRsync(
  s: Parameters<typeof tmpDir>[0],
  w: { env: Record<string, string> },
  opts: { mib: number; bwlimit: string; timeoutMs: number; pull?: boolean },
) {
  const dir = await tmpDir(s);
  const src = join(dir, 'src.bin');
  const dst = join(dir, 'dst.bin');
  bigFile(src, opts.mib);
  const [from, to] = opts.pull ? [`dev1:${src}`, dst] : [src, `dev1:${dst}`];
  const rsync = runCommand(
    s,
    'rsync',
    [`--bwlimit=${opts.bwlimit}`, '-e', 'burrow-shim', from, to],
    { timeoutMs: opts.timeoutMs, env: w.env },
  );
  return { rsync, src, dst };
}

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const MiB = 1024 * 1024;

/**
 * Asserts that each cut landed mid-transfer (before `total` bytes) and that the shim reconnected
 * after each one.
 */
function assertResumedAfterCuts(cutAt: number[], total: number, stderr: string): void {
  assert.ok(cutAt.length >= 2, `cuts at ${cutAt.join(', ')} bytes: at least two`);
  for (const n of cutAt) assert.ok(n < total, `a cut at ${n} of ${total} bytes: mid-transfer`);
  assert.ok(
    reconnects(stderr) >= cutAt.length,
    `${reconnects(stderr)} reconnects for ${cutAt.length} cuts: ${stderr}`,
  );
}

/**
 * Declares the cases on `bytePath` (BURROW_SHIM_NATIVE=require or 0 at both ends) inside the
 * calling file's `describe` (so `npm test` counts their time to that file, not to this helper);
 * `only`, when given, names the cases to declare (each must be one).
 */
export function shimCases(bytePath: BytePath, only?: readonly string[]): void {
  const declared = new Set<string>();
  const test = (name: string, fn: (t: TestContext) => Promise<void>) => {
    declared.add(name);
    if (!only || only.includes(name)) it(name, fn);
  };
  test('passes exit statuses and both output streams through', async (t) =>
    withScope(t, async (s) => {
      const w = await startShimWorld(s, { bytePath });
      const r = await w.shim(['dev1', 'echo out; echo err >&2; exit 42']);
      assert.equal(r.code, 42, r.stderr);
      assert.equal(r.stdout, 'out\n');
      assert.match(r.stderr, /^err$/m);
      const plain = await w.shim(['dev1', 'cat'], { input: 'through stdin\n' });
      assert.equal(plain.code, 0);
      assert.equal(plain.stdout, 'through stdin\n');
      // The holder reads the SSH channel that --serve handed it; the command must not inherit it
      // (it would keep the channel open after the holder let go of it).
      const fds = await w.shim(['dev1', 'exec ls /proc/self/fd']);
      assert.equal(fds.code, 0, fds.stderr);
      assert.deepEqual(
        fds.stdout.split('\n').filter(Boolean),
        ['0', '1', '2', '3'],
        'ls: 3 is its own',
      );
    }));

  test('reads the remote ~/.bashrc once per command, as plain ssh does, and keeps its environment', async (t) =>
    withScope(t, async (s) => {
      const w = await startShimWorld(s, { bytePath });
      // bash reads ~/.bashrc for a command sshd starts; the shim's login shell (the one that runs
      // burrow shim --serve) does, and the command's own shell must not read it again.
      const rc = 'echo once >> "$HOME/rc-runs"; export FROM_BASHRC=yes\n';
      const setup = await w.shim([
        'dev1',
        `printf '%s' '${rc}' > "$HOME/.bashrc"; rm -f "$HOME/rc-runs"`,
      ]);
      assert.equal(setup.code, 0, setup.stderr);
      const plain = await runCommand(s, w.ssh, ['dev1', 'echo $FROM_BASHRC; cat "$HOME/rc-runs"']);
      assert.equal(plain.stdout, 'yes\nonce\n', 'plain ssh: read once, its exports seen');
      const shim = await w.shim(['dev1', 'rm "$HOME/rc-runs"; true']);
      assert.equal(shim.code, 0, shim.stderr);
      const seen = await w.shim(['dev1', 'echo $FROM_BASHRC; cat "$HOME/rc-runs"']);
      assert.equal(seen.stdout, 'yes\nonce\n', 'through the shim: read once, its exports seen');
    }));

  test('passes signals both ways as plain ssh would', async (t) =>
    withScope(t, async (s) => {
      const w = await startShimWorld(s, { bytePath });
      const killed = await w.shim(['dev1', 'kill -TERM $$']);
      assert.equal(killed.code, 143, 'a command killed by SIGTERM: 128 + 15');
      const dir = await tmpDir(s);
      const pidFile = join(dir, 'pid');
      const proc = startShimProc(w, s, ['dev1', `echo $$ > ${pidFile}; exec sleep 300`]);
      await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim(), {
        what: 'the remote command to start',
      });
      const pid = Number(readFileSync(pidFile, 'utf8'));
      proc.signal('SIGINT');
      assert.equal((await proc.stopped()).code, 130);
      await waitFor(
        () => {
          try {
            process.kill(pid, 0);
            return false;
          } catch {
            return true;
          }
        },
        { what: 'the remote command to get the SIGINT', timeoutMs: 5000 },
      );
    }));

  test('the first --serve holds the session, and outlives the sshd session process it ran under', async (t) =>
    withScope(t, async (s) => {
      const w = await startShimWorld(s, { bytePath });
      const proc = startShimProc(w, s, ['dev1', 'echo started; sleep 2; echo done'], {});
      // Its first line has reached the local side: the session is confirmed there, so the cut
      // below is a loss to resume, not a first connection to retry.
      await proc.waitForLine(/^started$/, { stream: 'stdout' });
      const holders = withEnvEntry(`BURROW_DATA_DIR=${w.remoteDataDir}`).filter((p) =>
        readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').startsWith('burrow shim --hold'),
      );
      assert.equal(holders.length, 1, 'one process calls itself the holder');
      const holder = holders[0]!.pid;
      // /proc/<pid>/stat after the name: state, ppid, pgrp, session.
      const [, ppid, , session] = readFileSync(`/proc/${holder}/stat`, 'utf8')
        .split(') ')[1]!
        .split(' ')
        .map(Number);
      assert.equal(session, holder, 'a session leader (sshd made it one)');
      const sshdSession = ppid!;
      assert.match(readFileSync(`/proc/${sshdSession}/cmdline`, 'utf8'), /^sshd/);
      process.kill(sshdSession, 'SIGTERM'); // ends this connection, as sshd's own end would
      const exit = await proc.stopped();
      assert.equal(exit.code, 0, proc.tail());
      assert.equal(proc.output('stdout'), 'started\ndone'); // its lines, joined
      assert.match(proc.output('stderr'), /connection lost; reconnecting/);
    }));

  test('keeps every byte in order across forced disconnects (cat > f through a cutting proxy)', async (t) =>
    withScope(t, async (s) => {
      const w = await startShimWorld(s, {
        bytePath,
        proxy: true,
      });
      const dir = await tmpDir(s);
      const src = join(dir, 'src');
      bigFile(src, 96);
      const dst = join(dir, 'dst');
      const input = readFileSync(src);
      const proc = startShimProc(w, s, ['dev1', `cat > ${dst}`], {});
      // Fed at about 50 MiB/s, so the transfer spans several cuts.
      void (async () => {
        for (let at = 0; at < input.length; at += 1024 * 1024) {
          const ok = proc.child.stdin!.write(input.subarray(at, at + 1024 * 1024));
          if (!ok) await new Promise((r) => proc.child.stdin!.once('drain', r));
          await new Promise((r) => setTimeout(r, 40));
        }
        proc.child.stdin!.end();
      })();
      // A cut each time the remote file has grown by 24 MiB more (more than the shim's window,
      // so the session has resumed in between), while at least 16 MiB remain.
      const cutter = cutAsItGrows(w.proxy!, dst, 24 * MiB, input.length - 16 * MiB);
      const exit = await proc.stopped();
      const cutAt = await cutter.stop();
      assert.equal(exit.code, 0, proc.tail());
      assertResumedAfterCuts(cutAt, input.length, proc.output('stderr'));
      assert.equal(await sha256File(dst), await sha256File(src));
    }));

  test('stops reading stdin while the remote command does not read (bounded buffers), then delivers all of it', async (t) =>
    withScope(t, async (s) => {
      const w = await startShimWorld(s, { bytePath });
      const total = 24 * 2 ** 20;
      // The remote command reads nothing for 3 s, then counts what it gets.
      const proc = startShimProc(w, s, ['dev1', 'sleep 3; wc -c'], {
        env: { BURROW_SHIM_BUFFER: String(256 * 1024) },
      });
      let taken = 0;
      void (async () => {
        const chunk = Buffer.alloc(64 * 1024, 7);
        for (let at = 0; at < total; at += chunk.length) {
          const ok = proc.child.stdin!.write(chunk, (err) => {
            if (!err) taken += chunk.length;
          });
          if (!ok) await new Promise((r) => proc.child.stdin!.once('drain', r));
        }
        proc.child.stdin!.end();
      })();
      await new Promise((r) => setTimeout(r, 2500));
      // What the shim took meanwhile: its 256 KiB buffer plus what pipes, sockets and the ssh
      // channel hold on the way. Without the bound the shim would have read all 24 MiB by now.
      assert.ok(taken < 8 * 2 ** 20, `the shim took ${taken} bytes while nothing was read`);
      const exit = await proc.stopped();
      assert.equal(exit.code, 0, proc.tail());
      assert.equal(proc.output('stdout').trim(), String(total));
    }));

  test('rsync pulls a file across forced disconnects (the remote side resends its output)', async (t) =>
    withScope(t, async (s) => {
      const w = await startShimWorld(s, {
        bytePath,
        proxy: true,
        install: await installBurrow(s, { scripts: false }),
      });
      // The remote rsync sends at 20 MiB/s (rsync passes --bwlimit on to the sender), so the
      // transfer spans the cuts.
      const { rsync, src, dst } = await startShimRsync(s, w, {
        mib: 96,
        bwlimit: '20m',
        timeoutMs: 120_000,
        pull: true,
      });
      const cutter = cutAsItGrows(w.proxy!, dst, 24 * MiB, 80 * MiB);
      const r = await rsync;
      const cutAt = await cutter.stop();
      assert.equal(r.code, 0, r.stderr);
      assertResumedAfterCuts(cutAt, 96 * MiB, r.stderr);
      assert.equal(await sha256File(dst), await sha256File(src));
    }));

  test('rsync finishes, checksums equal, across two relay kill -9 + restarts', async (t) =>
    withScope(t, async (s) => {
      const w = await startShimWorld(s, {
        bytePath,
        install: await installBurrow(s, { scripts: false }),
      });
      const relay = w.fleet.relays[0]!;
      const { rsync, src, dst } = await startShimRsync(s, w, {
        mib: 256,
        bwlimit: '40m',
        timeoutMs: 240_000,
      });
      // Each kill once the destination has grown by 32 MiB more (more than the shim's window:
      // the transfer has resumed after the previous kill).
      const killedAt: number[] = [];
      for (let i = 0; i < 2; i++) {
        killedAt.push(await reachedSize(dst, (killedAt.at(-1) ?? 0) + 32 * MiB));
        await relay.kill();
        await relay.start();
      }
      const r = await rsync;
      assert.equal(r.code, 0, r.stderr);
      assertResumedAfterCuts(killedAt, 256 * MiB, r.stderr);
      assert.equal(await sha256File(dst), await sha256File(src));
    }));

  test("rsync finishes when the device's agent moves to another relay mid-transfer (drain)", async (t) =>
    withScope(t, async (s) => {
      const w = await startShimWorld(s, {
        bytePath,
        relays: 2,
        install: await installBurrow(s, { scripts: false }),
      });
      // Slow enough that the draining relay's grace (10 s) ends mid-transfer and cuts it.
      const { rsync, src, dst } = await startShimRsync(s, w, {
        mib: 256,
        bwlimit: '20m',
        timeoutMs: 240_000,
      });
      const drainedAt = await reachedSize(dst, 32 * MiB);
      assert.ok(drainedAt < 256 * MiB, `the drain starts mid-transfer (at ${drainedAt} bytes)`);
      const current = (await w.fleet.status()).state.relay;
      const draining = w.fleet.relays.find((r) => r.id === current)!;
      draining.proc!.signal('SIGTERM');
      await waitFor(async () => (await w.fleet.status()).state.relay !== current, {
        what: 'the agent on the other relay',
      });
      const r = await rsync;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await sha256File(dst), await sha256File(src));
      assert.match(r.stderr, /connection lost; reconnecting/, 'the transfer was cut and resumed');
    }));

  test('scp in SFTP mode and -O mode survives a cut connection', async (t) =>
    withScope(t, async (s) => {
      const w = await startShimWorld(s, {
        bytePath,
        proxy: true,
        install: await installBurrow(s, { scripts: false }),
      });
      const dir = await tmpDir(s);
      const src = join(dir, 'f.bin');
      bigFile(src, 48);
      for (const mode of [[], ['-O']]) {
        const dst = join(dir, `copy${mode.join('')}.bin`);
        const scp = runCommand(
          s,
          'scp',
          [...mode, '-l', '200000', '-S', 'burrow-shim', src, `dev1:${dst}`],
          { timeoutMs: 120_000, env: w.env },
        );
        const cutAt = await reachedSize(dst, 8 * MiB);
        w.proxy!.cutAll();
        const r = await scp;
        assert.equal(r.code, 0, `scp ${mode.join(' ')}: ${r.stderr}`);
        assert.ok(cutAt < 48 * MiB, `scp ${mode.join(' ')}: cut mid-transfer, at ${cutAt} bytes`);
        assert.ok(reconnects(r.stderr) >= 1, `scp ${mode.join(' ')} reconnected: ${r.stderr}`);
        assert.equal(await sha256File(dst), await sha256File(src), `scp ${mode.join(' ')}`);
      }
    }));

  test('ends a held session nobody reattaches within the resume window', async (t) =>
    withScope(t, async (s) => {
      const w = await startShimWorld(s, { bytePath });
      const dir = await tmpDir(s);
      const pidFile = join(dir, 'pid');
      const proc = startShimProc(w, s, ['dev1', `echo $$ > ${pidFile}; exec sleep 300`], {
        env: { BURROW_SHIM_RESUME_WINDOW: '2s' },
      });
      await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim(), {
        what: 'the remote command to start',
      });
      const pid = Number(readFileSync(pidFile, 'utf8'));
      const shimDir = join(w.remoteDataDir, 'shim');
      assert.equal(readdirSync(shimDir).length, 1, 'one held session');
      // The local side vanishes for good: nobody will reattach.
      proc.signal('SIGKILL');
      await proc.stopped();
      const isAlive = () => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      assert.ok(isAlive(), 'still held right after the local side died');
      await waitFor(() => !isAlive(), {
        what: 'the remote command to be ended',
        timeoutMs: 10_000,
      });
      await waitFor(() => readdirSync(shimDir).length === 0, { what: 'the socket removed' });
    }));

  test('gives up with 255 and a clear line when the window passes without a reattach', async (t) =>
    withScope(t, async (s) => {
      const w = await startShimWorld(s, { bytePath });
      const proc = startShimProc(w, s, ['dev1', 'echo started; exec sleep 300'], {
        env: { BURROW_SHIM_RESUME_WINDOW: '3s' },
      });
      await proc.waitForLine(/^started$/, { stream: 'stdout' });
      await w.fleet.relays[0]!.kill(); // and never back
      const exit = await proc.stopped();
      assert.equal(exit.code, 255);
      assert.match(proc.output('stderr'), /could not be resumed within the resume window/);
    }));

  test('lets nobody else attach: the socket directory is 0700 and a wrong secret is refused', async (t) =>
    withScope(t, async (s) => {
      const w = await startShimWorld(s, { bytePath });
      const proc = startShimProc(w, s, ['dev1', 'sleep 30']);
      const shimDir = join(w.remoteDataDir, 'shim');
      await waitFor(() => existsSync(shimDir) && readdirSync(shimDir).length === 1, {
        what: 'a held session',
      });
      const { statSync } = await import('node:fs');
      assert.equal(statSync(shimDir).mode & 0o777, 0o700);
      const sock = join(shimDir, readdirSync(shimDir)[0]!);
      // Another user: cannot even reach the socket.
      const other = await runCommand(s, 'setpriv', [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        '-e',
        `require('net').connect(${JSON.stringify(sock)}).on('error', e => { console.log(e.code); process.exit(0) }).on('connect', () => { console.log('connected'); process.exit(0) })`,
      ]);
      assert.equal(other.stdout.trim(), 'EACCES', other.stderr);
      // The same user without the secret: refused.
      const sessionId = Buffer.from(readdirSync(shimDir)[0]!.replace(/\.sock$/, ''), 'hex');
      const reply = await new Promise<string>((resolve) => {
        const c = connect(sock);
        const decoder = new FrameDecoder();
        c.on('data', (d: Buffer) => {
          const f = decoder.push(d)[0];
          if (f) resolve(f.type === 'refuse' ? f.code : f.type);
        });
        c.on('error', (e) => resolve(`error ${e.message}`));
        c.write(
          encodeFrame({
            type: 'hello',
            sessionId,
            secret: Buffer.alloc(32, 1),
            mode: { kind: 'resume', stdoutReceived: 0, stderrReceived: 0 },
          }),
        );
      });
      assert.equal(reply, 'bad-secret');
      proc.signal('SIGTERM');
    }));

  test('refuses a subsystem other than sftp with 255 and one clear line', async (t) =>
    withScope(t, async (s) => {
      const w = await startShimWorld(s, { bytePath });
      const r = await w.shim(['-s', 'dev1', 'somesubsystem']);
      assert.equal(r.code, 255, r.stderr);
      assert.match(
        r.stderr,
        /^burrow shim: the remote refused the session: spawn-failed: .*unknown subsystem "somesubsystem"\n$/,
      );
      assert.equal(r.stdout, '');
      // Nothing is held for a command that never started: the holder is gone, and its socket.
      const shimDir = join(w.remoteDataDir, 'shim');
      await waitFor(() => !existsSync(shimDir) || readdirSync(shimDir).length === 0, {
        what: 'the refused session holder gone',
        timeoutMs: 5000,
      });
    }));

  test('says once, at once, when the remote is not burrow, and prints a repeated ssh failure once', async (t) =>
    withScope(t, async (s) => {
      const w = await startShimWorld(s, { bytePath });
      const missing = await w.shim(['dev1', 'echo', 'hi'], {
        env: { BURROW_SHIM_REMOTE: 'burrow-not-installed shim --serve' },
      });
      assert.equal(missing.code, 255, missing.stderr);
      assert.equal(missing.stderr.match(/command not found/g)?.length, 1, missing.stderr);
      assert.match(
        missing.stderr,
        /\nburrow shim: the remote shell could not run "burrow-not-installed shim --serve" \(exit 127\): is burrow installed and on the remote PATH\? \(BURROW_SHIM_REMOTE sets the command\)\n$/,
      );

      const silent = await w.shim(['dev1', 'echo', 'hi'], {
        env: { BURROW_SHIM_REMOTE: 'true' },
      });
      assert.equal(silent.code, 255, silent.stderr);
      assert.match(
        silent.stderr,
        /^burrow shim: the remote command "true" ended \(exit 0\) without answering as burrow shim: is burrow installed/,
      );
      assert.equal(silent.stderr.split('\n').length, 2, silent.stderr);

      // ssh's own failure, the same on each of the shim's tries: printed once. (A closed port
      // on loopback: the refusal is immediate, and nothing leaves the machine.)
      const port = await closedPort();
      const refused = await w.shim([
        '-o',
        'ProxyCommand=none',
        '-p',
        String(port),
        '127.0.0.1',
        'true',
      ]);
      assert.equal(refused.code, 255, refused.stderr);
      assert.equal(refused.stderr.match(/Connection refused/g)?.length, 1, refused.stderr);
    }));

  test('the holder answers a ping with a pong of the same nonce, also after a resume', async (t) =>
    withScope(t, async (s) => {
      const w = await startShimWorld(s, { bytePath });
      const { sessionId, secret, channel, socketPath: sock } = await startHeldSession(s, w);
      channel.write({ type: 'ping', nonce: 0x5eed0001 });
      assert.equal((await channel.next('pong')).nonce, 0x5eed0001);

      // A reconnect as a relaying --serve makes it (a holder from before adoption, or a channel
      // that is not pipes): straight to the holder's socket, resuming the session.
      const c: Socket = connect(sock);
      s.defer(() => void c.destroy(), 'close the socket connection');
      const resumed = frameReader(c, c);
      c.write(encodeFrame(resumeHello(sessionId, secret)));
      assert.equal((await resumed.next('welcome')).resumed, true);
      c.write(encodeFrame({ type: 'ping', nonce: 0x5eed0002 }));
      assert.equal((await resumed.next('pong')).nonce, 0x5eed0002);
    }));

  test('the local side answers a ping with a pong of the same nonce', async (t) =>
    withScope(t, async (s) => {
      // The remote's part, played by the test: "ssh" is nc, connecting to a socket the test serves.
      const dir = await tmpDir(s);
      const remote = join(dir, 'remote.sock');
      const fakeSsh = join(dir, 'ssh');
      writeFileSync(fakeSsh, `#!/bin/sh\nexec nc -U ${remote}\n`);
      chmodSync(fakeSsh, 0o755);
      const pong = new Promise<number>((resolve, reject) => {
        const server = createServer(async (c) => {
          s.defer(() => void c.destroy(), 'close the connection from the shim');
          try {
            const frames = frameReader(c, c);
            await frames.next('hello');
            c.write(encodeFrame({ type: 'welcome', resumed: false, stdinReceived: 0 }));
            c.write(encodeFrame({ type: 'ping', nonce: 0x5eed0003 }));
            resolve((await frames.next('pong')).nonce);
            // Ends the session, so the shim exits with the command's status.
            c.write(encodeFrame({ type: 'eof', stream: 1, offset: 0 }));
            c.write(encodeFrame({ type: 'eof', stream: 2, offset: 0 }));
            c.write(encodeFrame({ type: 'exit', code: 7, signal: null }));
          } catch (err) {
            reject(err);
          }
        });
        server.listen(remote);
        s.defer(() => new Promise<void>((r) => server.close(() => r())), 'close the fake remote');
      });
      const shim = runCommand(s, process.execPath, [CLI_PATH, 'shim', 'dev1', 'true'], {
        env: { BURROW_SHIM_SSH: fakeSsh },
        timeoutMs: 10_000,
      });
      const exitedFirst = shim.then((r) => {
        throw new Error(`the shim exited (${r.code}) before answering the ping: ${r.stderr}`);
      });
      assert.equal(await Promise.race([pong, exitedFirst]), 0x5eed0003);
      const r = await shim;
      assert.equal(r.code, 7, r.stderr);
      assert.equal(r.stdout, '', 'no frame leaks into the output');
    }));
  const unknown = (only ?? []).filter((name) => !declared.has(name));
  if (unknown.length > 0) throw new Error(`no such shim case: ${unknown.join('; ')}`);
}
