/**
 * Adoption (src/shim/adopt.ts): after a reconnect the holder reads and writes the new channel's
 * pipes itself, so the resumed `burrow shim --serve` carries no data; and where adoption cannot
 * be had (wrong secret, a channel that is not pipes, a holder from before adoption) the shim
 * relays as before.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  constants,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
} from 'node:fs';
import { connect, createServer, Socket } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { ADOPT_MAGIC, ADOPT_REQUEST_LENGTH, encodeAdoptRequest } from '../src/shim/adopt.js';
import { encodeFrame, type HelloFrame } from '../src/shim/frames.js';
import { type Scope, tmpDir, waitFor, within, withScope } from './helpers/index.js';
import { withEnvEntry } from './helpers/reaper.js';
import { CLI_PATH } from './helpers/relay.js';
import { startShimProc, startShimWorld } from './helpers/shim.js';
import {
  type FrameReader,
  frameReader,
  resumeHello,
  startHeldSession,
} from './helpers/shim-protocol.js';

/**
 * Starts `cmd` with stdin and stdout on FIFOs, as sshd's pipes are (Node's own stdio pipes are
 * sockets); `channel` is the test's end of them.
 */
function startWithFifos(
  s: Scope,
  dir: string,
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): { child: ChildProcess; channel: FrameReader } {
  const [inPath, outPath] = [join(dir, 'in'), join(dir, 'out')];
  execFileSync('mkfifo', [inPath, outPath]);
  // Read-write, so no open waits for the other end.
  const child = spawn(cmd, args, {
    stdio: [openSync(inPath, 'r+'), openSync(outPath, 'r+'), 'ignore'],
    env,
  });
  const rw = constants.O_RDWR | constants.O_NONBLOCK;
  const toChild = new Socket({ fd: openSync(inPath, rw), readable: false, writable: true });
  const fromChild = new Socket({ fd: openSync(outPath, rw), readable: true, writable: false });
  s.defer(() => {
    child.kill('SIGKILL');
    toChild.destroy();
    fromChild.destroy();
  }, `stop ${cmd} and close its FIFOs`);
  return { child, channel: frameReader(fromChild, toChild) };
}

/**
 * Connects to a holder's socket and asks it to adopt the pipes of `pid` for `hello`: the one-byte
 * answer ('A' or 'R'; '' if it closed the socket without one), and what follows on the socket.
 */
async function askAdoption(s: Scope, sock: string, pid: number, hello: HelloFrame) {
  const c = connect(sock);
  s.defer(() => void c.destroy(), 'close the socket connection');
  c.on('error', () => {});
  c.write(Buffer.concat([encodeAdoptRequest(pid), encodeFrame(hello)]));
  const first = await within(
    new Promise<Buffer>((resolve) => {
      c.once('data', (b: Buffer) => {
        c.pause(); // the rest goes to the frame reader, in order
        resolve(b);
      });
      c.once('close', () => resolve(Buffer.alloc(0)));
    }),
    5000,
    'the answer to an adoption request',
  );
  const rest = new PassThrough();
  rest.write(first.subarray(1));
  c.pipe(rest);
  return { answer: first.subarray(0, 1).toString(), socket: c, frames: frameReader(rest, c) };
}

/** Pids of live processes whose command line has `part` and whose environment has `env`. */
function processesWith(part: string, env: string): number[] {
  return withEnvEntry(env)
    .map((p) => p.pid)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').includes(part);
      } catch {
        return false; // gone meanwhile
      }
    });
}

/** Where each open fd of `pid` leads ("pipe:[123]", "socket:[45]", a path). */
function fdTargets(pid: number): Map<number, string> {
  const links = new Map<number, string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        links.set(Number(fd), readlinkSync(`/proc/${pid}/fd/${fd}`));
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    // the process is gone
  }
  return links;
}

/** Bytes `pid` has read and written through any system call so far (/proc/<pid>/io). */
function ioBytes(pid: number): { read: number; written: number } {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)![1]);
  return { read: field('rchar'), written: field('wchar') };
}

describe('burrow shim: adoption of a resumed channel', () => {
  it('the holder serves the pipes of a --serve that asks, only with the secret; otherwise it relays on the socket', async (t) =>
    withScope(t, async (s) => {
      const w = await startShimWorld(s);
      const held = await startHeldSession(s, w);
      const dir = await tmpDir(s);
      const hello = resumeHello(held.sessionId, held.secret);

      // A wrong secret: no adoption, and the refusal comes on the socket.
      mkdirSync(join(dir, 'a'));
      const stranger = startWithFifos(s, join(dir, 'a'), 'sleep', ['60']);
      const wrong = await askAdoption(s, held.socketPath, stranger.child.pid!, {
        ...hello,
        secret: randomBytes(32),
      });
      assert.equal(wrong.answer, 'R');
      assert.equal((await wrong.frames.next('refuse')).code, 'bad-secret');

      // A process whose stdio are sockets: relayed on the socket, resumed there.
      const sockets = spawn('sleep', ['60'], { stdio: ['pipe', 'pipe', 'ignore'] });
      s.defer(() => void sockets.kill('SIGKILL'), 'stop sleep');
      const relayed = await askAdoption(s, held.socketPath, sockets.pid!, hello);
      assert.equal(relayed.answer, 'R');
      assert.equal((await relayed.frames.next('welcome')).resumed, true);
      relayed.frames.write({ type: 'ping', nonce: 1 });
      assert.equal((await relayed.frames.next('pong')).nonce, 1);

      // Pipes and the secret: adopted. The session goes on on the pipes, not on the socket.
      mkdirSync(join(dir, 'b'));
      const serve = startWithFifos(s, join(dir, 'b'), 'sleep', ['60']);
      const adopted = await askAdoption(s, held.socketPath, serve.child.pid!, hello);
      assert.equal(adopted.answer, 'A');
      assert.equal((await serve.channel.next('welcome')).resumed, true);
      serve.channel.write({ type: 'ping', nonce: 2 });
      assert.equal((await serve.channel.next('pong')).nonce, 2);
      serve.channel.write({ type: 'data', stream: 0, offset: 0, payload: Buffer.from('echo\n') });
      let echoed = '';
      while (!echoed.includes('echo\n')) {
        echoed += (await serve.channel.next('data')).payload.toString();
      }

      // --serve gone: the holder lets go of the pipes (sshd could not end the session otherwise).
      const [holder] = processesWith('--hold', `BURROW_DATA_DIR=${w.remoteDataDir}`);
      assert.ok(holder, 'the holder runs');
      const fifo = join(dir, 'b', 'in');
      const holds = () => [...fdTargets(holder).values()].includes(fifo);
      assert.ok(holds(), 'the holder has the FIFO open while adopted');
      adopted.socket.destroy();
      await waitFor(() => !holds(), {
        what: 'the holder closes the adopted pipes',
        timeoutMs: 5000,
      });

      // Garbage after an adoption request: closed, with no answer.
      const c = connect(held.socketPath);
      s.defer(() => void c.destroy(), 'close the socket connection');
      c.on('error', () => {});
      c.end(Buffer.concat([encodeAdoptRequest(serve.child.pid!), Buffer.from('garbage\n')]));
      const got: Buffer[] = [];
      c.on('data', (b: Buffer) => got.push(b));
      await within(new Promise((r) => c.once('close', r)), 5000, 'the holder closing');
      assert.equal(Buffer.concat(got).length, 0);
    }));

  it('--serve relays when the holder answers RELAY, or closes at the request (a holder from before adoption)', async (t) =>
    withScope(t, async (s) => {
      const dataDir = await tmpDir(s);
      mkdirSync(join(dataDir, 'shim'), { mode: 0o700 });
      for (const holderKind of ['answers RELAY', 'predates adoption'] as const) {
        const sessionId = randomBytes(16);
        const secret = randomBytes(32);
        const sock = join(dataDir, 'shim', `${sessionId.toString('hex')}.sock`);
        // The holder's part, played by the test.
        const openings: string[] = [];
        const server = createServer((c) => {
          s.defer(() => void c.destroy(), 'close the connection from --serve');
          const input = new PassThrough();
          const frames = frameReader(input, c);
          let first = true;
          c.on('data', (chunk: Buffer) => {
            if (first) {
              first = false;
              // --serve writes the request and the hello at once: one chunk on a unix socket.
              const adopt = chunk.subarray(0, ADOPT_MAGIC.length).equals(ADOPT_MAGIC);
              openings.push(adopt ? 'adopt' : 'plain');
              if (adopt && holderKind === 'predates adoption') return void c.destroy();
              if (adopt) c.write('R');
              c.write(encodeFrame({ type: 'welcome', resumed: true, stdinReceived: 0 }));
              if (adopt) chunk = chunk.subarray(ADOPT_REQUEST_LENGTH);
            }
            input.write(chunk);
          });
          void frames.next('ping').then(
            (p) => c.write(encodeFrame({ type: 'pong', nonce: p.nonce })),
            () => {},
          );
        });
        await new Promise<void>((r) => server.listen(sock, r));
        s.defer(() => new Promise<void>((r) => server.close(() => r())), 'close the fake holder');

        const fifos = join(dataDir, holderKind.replace(/ /g, '-'));
        mkdirSync(fifos);
        const env = { ...process.env, BURROW_DATA_DIR: dataDir };
        const serve = startWithFifos(
          s,
          fifos,
          process.execPath,
          [CLI_PATH, 'shim', '--serve'],
          env,
        );
        serve.channel.write(resumeHello(sessionId, secret));
        assert.equal((await serve.channel.next('welcome')).resumed, true, holderKind);
        serve.channel.write({ type: 'ping', nonce: 3 });
        assert.equal((await serve.channel.next('pong')).nonce, 3, holderKind);
        const want = holderKind === 'answers RELAY' ? ['adopt'] : ['adopt', 'plain'];
        assert.deepEqual(openings, want, holderKind);
      }
    }));

  it('after a reconnect through sshd, the resumed --serve carries no data (cat > f, 40 MiB)', async (t) =>
    withScope(t, async (s) => {
      const w = await startShimWorld(s, { proxy: true });
      const dir = await tmpDir(s);
      const dst = join(dir, 'dst');
      const proc = startShimProc(w, s, ['dev1', `cat > ${dst}`], {});
      const stdin = proc.child.stdin!;
      const sent = createHash('sha256');
      let total = 0;
      const feed = async (mib: number) => {
        for (let i = 0; i < mib; i++) {
          const block = randomBytes(1024 * 1024);
          sent.update(block);
          total += block.length;
          if (!stdin.write(block)) await new Promise((r) => stdin.once('drain', r));
        }
        await waitFor(() => fileSize(dst) === total, { what: `${total} bytes at the remote` });
      };
      await feed(8);
      w.proxy!.cutAll();
      await proc.waitForLine(/connection lost; reconnecting/, { stream: 'stderr' });

      // The resumed --serve: the one whose stdin and stdout pipes the holder has open.
      const env = `BURROW_DATA_DIR=${w.remoteDataDir}`;
      const adoptedServe = await waitFor(
        () => {
          const [holder, ...others] = processesWith('--hold', env);
          assert.equal(others.length, 0, 'one holder');
          if (!holder) return undefined;
          const held = new Set(fdTargets(holder).values());
          return processesWith('--serve', env).find((pid) => {
            const fds = fdTargets(pid);
            return [0, 1].every((fd) => fds.get(fd)?.startsWith('pipe:') && held.has(fds.get(fd)!));
          });
        },
        { what: 'the holder to adopt the resumed channel', timeoutMs: 20_000 },
      );
      const before = ioBytes(adoptedServe);
      await feed(32);
      const after = ioBytes(adoptedServe);
      assert.ok(
        after.read - before.read < 256 * 1024 && after.written - before.written < 256 * 1024,
        `--serve read ${after.read - before.read} and wrote ${after.written - before.written} bytes while 32 MiB passed`,
      );
      stdin.end();
      const exit = await proc.stopped();
      assert.equal(exit.code, 0, proc.tail());
      const got = createHash('sha256').update(readFileSync(dst)).digest('hex');
      assert.equal(got, sent.digest('hex'));
    }));
});

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return -1;
  }
}
