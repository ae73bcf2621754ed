/**
 * `burrow shim` through a real burrow relay to a real sshd (the device registered by `burrow
 * agent`), with real rsync and scp: transfers that survive cut connections and relay restarts,
 * exit statuses, the resume window, and who may attach to a held session.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FrameDecoder } from '../src/shim/frame-decoder.js';
import { encodeFrame } from '../src/shim/frames.js';
import { runCommand, tmpDir, waitFor, withScope } from './helpers/index.js';
import { startShimProc, startShimWorld } from './helpers/shim.js';

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

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

describe('burrow shim', () => {
  it('passes exit statuses and both output streams through', async (t) =>
    withScope(t, async (s) => {
      const w = await startShimWorld(s);
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

  it('passes signals both ways as plain ssh would', async (t) =>
    withScope(t, async (s) => {
      const w = await startShimWorld(s);
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

  it('keeps every byte in order across forced disconnects (cat > f through a cutting proxy)', async (t) =>
    withScope(t, async (s) => {
      const w = await startShimWorld(s, { proxy: true });
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
      // Cuts once the session is under way, then every 1.2 s (a reconnect through the relay
      // takes about 0.7 s here, so the transfer still progresses between cuts).
      let cuts = 0;
      let cutter: NodeJS.Timeout | undefined;
      const starter = setTimeout(() => {
        cutter = setInterval(() => {
          w.proxy!.cutAll();
          cuts++;
        }, 1200);
      }, 1500);
      const exit = await proc.stopped();
      clearTimeout(starter);
      clearInterval(cutter);
      assert.equal(exit.code, 0, proc.tail());
      assert.ok(cuts >= 2, `${cuts} cuts during the transfer`);
      assert.match(proc.output('stderr'), /connection lost; reconnecting/);
      assert.equal(await sha256(dst), await sha256(src));
    }));

  it('rsync finishes, checksums equal, across two relay kill -9 + restarts', async (t) =>
    withScope(t, async (s) => {
      const w = await startShimWorld(s);
      const dir = await tmpDir(s);
      const src = join(dir, 'big.bin');
      bigFile(src, 256);
      const dst = join(dir, 'copy.bin');
      const relay = w.fleet.relays[0]!;
      const rsync = runCommand(
        s,
        'rsync',
        ['--bwlimit=40m', '-e', w.shimCommand, src, `dev1:${dst}`],
        { timeoutMs: 240_000 },
      );
      for (let i = 0; i < 2; i++) {
        await new Promise((r) => setTimeout(r, 1500));
        await relay.kill();
        await relay.start();
      }
      const r = await rsync;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await sha256(dst), await sha256(src));
    }));

  it("rsync finishes when the device's agent moves to another relay mid-transfer (drain)", async (t) =>
    withScope(t, async (s) => {
      const w = await startShimWorld(s, { relays: 2 });
      const dir = await tmpDir(s);
      const src = join(dir, 'big.bin');
      bigFile(src, 256);
      const dst = join(dir, 'copy.bin');
      // Slow enough that the draining relay's grace (10 s) ends mid-transfer and cuts it.
      const rsync = runCommand(
        s,
        'rsync',
        ['--bwlimit=20m', '-e', w.shimCommand, src, `dev1:${dst}`],
        {
          timeoutMs: 240_000,
        },
      );
      await new Promise((r) => setTimeout(r, 1500));
      const current = (await w.fleet.status()).state.relay;
      const draining = w.fleet.relays.find((r) => r.id === current)!;
      draining.proc!.signal('SIGTERM');
      await waitFor(async () => (await w.fleet.status()).state.relay !== current, {
        what: 'the agent on the other relay',
      });
      const r = await rsync;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await sha256(dst), await sha256(src));
      assert.match(r.stderr, /connection lost; reconnecting/, 'the transfer was cut and resumed');
    }));

  it('scp in SFTP mode and -O mode survives a cut connection', async (t) =>
    withScope(t, async (s) => {
      const w = await startShimWorld(s, { proxy: true });
      const dir = await tmpDir(s);
      const src = join(dir, 'f.bin');
      bigFile(src, 48);
      for (const mode of [[], ['-O']]) {
        const dst = join(dir, `copy${mode.join('')}.bin`);
        const scp = runCommand(
          s,
          'scp',
          [...mode, '-l', '200000', '-S', w.shimCommand, src, `dev1:${dst}`],
          {
            timeoutMs: 120_000,
          },
        );
        await new Promise((r) => setTimeout(r, 800));
        w.proxy!.cutAll();
        const r = await scp;
        assert.equal(r.code, 0, `scp ${mode.join(' ')}: ${r.stderr}`);
        assert.equal(await sha256(dst), await sha256(src), `scp ${mode.join(' ')}`);
      }
    }));

  it('ends a held session nobody reattaches within the resume window', async (t) =>
    withScope(t, async (s) => {
      const w = await startShimWorld(s);
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

  it('gives up with 255 and a clear line when the window passes without a reattach', async (t) =>
    withScope(t, async (s) => {
      const w = await startShimWorld(s);
      const proc = startShimProc(w, s, ['dev1', 'echo started; exec sleep 300'], {
        env: { BURROW_SHIM_RESUME_WINDOW: '3s' },
      });
      await proc.waitForLine(/^started$/, { stream: 'stdout' });
      await w.fleet.relays[0]!.kill(); // and never back
      const exit = await proc.stopped();
      assert.equal(exit.code, 255);
      assert.match(proc.output('stderr'), /could not be resumed within the resume window/);
    }));

  it('lets nobody else attach: the socket directory is 0700 and a wrong secret is refused', async (t) =>
    withScope(t, async (s) => {
      const w = await startShimWorld(s);
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
});
