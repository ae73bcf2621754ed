import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { FrameDecoder } from './frame-decoder.js';
import { encodeFrame, type HelloFrame } from './frames.js';
import { sessionDir, socketPath } from './session-dir.js';

/**
 * `burrow shim --serve`, the remote end of one SSH connection: reads the local side's hello from
 * stdin, starts a holder for a new session (or finds the existing one for a resume), then relays
 * bytes between the SSH channel (stdin/stdout) and the holder's socket until either side ends.
 * It interprets nothing after the hello: the holder speaks the protocol.
 */

export interface ServeDeps {
  /** Argv that runs `burrow shim --hold` (this program, as it was started). */
  readonly holderArgv: readonly string[];
  readonly dataDir: string;
}

export async function runServe(deps: ServeDeps): Promise<number> {
  const decoder = new FrameDecoder();
  const head: Buffer[] = [];
  let hello: HelloFrame | undefined;
  const stdin = process.stdin;
  const fail = (code: 'unknown-session' | 'spawn-failed' | 'internal', message: string) => {
    process.stdout.write(encodeFrame({ type: 'refuse', code, message }));
    return 1;
  };
  try {
    hello = await new Promise<HelloFrame>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        head.push(chunk);
        let frames: ReturnType<FrameDecoder['push']>;
        try {
          frames = decoder.push(chunk);
        } catch (err) {
          reject(err);
          return;
        }
        const first = frames[0];
        if (!first) return;
        stdin.off('data', onData);
        stdin.pause();
        if (first.type !== 'hello') reject(new Error('expected a hello'));
        else resolve(first);
      };
      stdin.on('data', onData);
      stdin.once('end', () => reject(new Error('the local side sent no hello')));
    });
  } catch (err) {
    return fail('internal', `burrow shim --serve: ${(err as Error).message}`);
  }

  let dir: string;
  try {
    dir = sessionDir(deps.dataDir);
  } catch (err) {
    return fail('internal', (err as Error).message);
  }
  const path = socketPath(dir, hello.sessionId);
  // A new session whose holder exists already (an earlier connection for it broke after the
  // hello) is simply connected to: the holder decides whether it may still start there.
  if (hello.mode.kind === 'new' && !existsSync(path)) {
    const holder = spawn(deps.holderArgv[0]!, [...deps.holderArgv.slice(1)], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    holder.on('error', () => {});
    // The hello (secret included) reaches the holder through a pipe, never its command line.
    holder.stdin!.end(Buffer.concat(head));
    holder.unref();
    const deadline = Date.now() + 10_000;
    while (!existsSync(path) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    if (!existsSync(path)) return fail('spawn-failed', 'the session holder did not start');
  } else if (!existsSync(path)) {
    return fail('unknown-session', 'no such session here (it ended, or its resume window passed)');
  }

  return new Promise<number>((resolve) => {
    const socket = connect(path);
    socket.on('error', () => resolve(fail('unknown-session', 'the session holder is gone')));
    socket.once('connect', () => {
      socket.write(Buffer.concat(head));
      stdin.pipe(socket);
      socket.pipe(process.stdout);
    });
    socket.once('close', () => resolve(0));
    stdin.once('end', () => socket.end());
  });
}
