/**
 * For tests that play one side of the shim protocol themselves: a frame reader, and a held
 * session started the way the local side starts one.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { FrameDecoder } from '../../src/shim/frame-decoder.js';
import { encodeFrame, type Frame, type HelloFrame } from '../../src/shim/frames.js';
import { startProc } from './proc.js';
import type { Scope } from './scope.js';
import type { ShimWorld } from './shim.js';
import { within } from './wait.js';

export type FrameReader = ReturnType<typeof frameReader>;

/** The hello that starts a session running `command` (a 1 MiB buffer each way). */
export function newHello(
  sessionId: Buffer,
  secret: Buffer,
  command: string,
  resumeWindowMs: number,
): HelloFrame {
  return {
    type: 'hello',
    sessionId,
    secret,
    mode: {
      kind: 'new',
      command: { kind: 'argv', argv: [command] },
      options: { resumeWindowMs, bufferBytes: 1024 * 1024 },
    },
  };
}

/** The hello that resumes a session, having received nothing of its output yet. */
export function resumeHello(sessionId: Buffer, secret: Buffer): HelloFrame {
  return {
    type: 'hello',
    sessionId,
    secret,
    mode: { kind: 'resume', stdoutReceived: 0, stderrReceived: 0 },
  };
}

/**
 * The frames arriving on `input`, for a test playing one side of the shim protocol: next(type)
 * resolves with the first frame of that type not yet taken (other frames are skipped), and
 * rejects if the connection ends or none arrives within 5 s. The other side's pings are answered,
 * so a side that checks liveness keeps the connection.
 */
export function frameReader(input: Readable, output: Writable) {
  const decoder = new FrameDecoder();
  const frames: Frame[] = [];
  let ended: Error | undefined;
  let wake = () => {};
  output.on('error', () => {}); // a pong after the other side has gone
  input.on('data', (chunk: Buffer) => {
    try {
      for (const f of decoder.push(chunk)) {
        if (f.type === 'ping') output.write(encodeFrame({ type: 'pong', nonce: f.nonce }));
        frames.push(f);
      }
    } catch (err) {
      ended ??= err as Error;
    }
    wake();
  });
  input.once('close', () => {
    ended ??= new Error('the connection ended');
    wake();
  });
  const next = <T extends Frame['type']>(type: T) =>
    within(
      new Promise<Extract<Frame, { type: T }>>((resolve, reject) => {
        const check = () => {
          const at = frames.findIndex((f) => f.type === type);
          if (at >= 0) resolve(frames.splice(0, at + 1).pop() as Extract<Frame, { type: T }>);
          else if (ended) reject(new Error(`no ${type} frame: ${ended.message}`));
          else wake = check;
        };
        check();
      }),
      5000,
      `a ${type} frame`,
    );
  /** Writes one frame to the other side. */
  const write = (frame: Frame) => output.write(encodeFrame(frame));
  return { next, write };
}

/**
 * A session held on dev1, started as the local side starts one: ssh runs `burrow shim --serve`,
 * which becomes the holder, on that channel; the command (`cat`) is running once this
 * returns. `channel` reads and writes that first connection.
 */
export async function startHeldSession(scope: Scope, w: ShimWorld) {
  const sessionId = randomBytes(16);
  const secret = randomBytes(32);
  const ssh = startProc(scope, w.ssh, ['-T', 'dev1', w.env.BURROW_SHIM_REMOTE!], { name: 'ssh' });
  const channel = frameReader(ssh.child.stdout!, ssh.child.stdin!);
  channel.write(newHello(sessionId, secret, 'echo running; exec cat', 10_000));
  assert.equal((await channel.next('welcome')).resumed, false);
  // The command is running (its shell is done with its startup files): what the end of the
  // test stops is only `cat`.
  let output = '';
  while (!output.includes('running\n')) {
    output += (await channel.next('data')).payload.toString();
  }
  const socketPath = join(w.remoteDataDir, 'shim', `${sessionId.toString('hex')}.sock`);
  return { sessionId, secret, ssh, channel, socketPath };
}
