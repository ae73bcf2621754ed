import { existsSync, read } from 'node:fs';
import { connect, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ignoreExpectedErrors } from '../streams/expected-errors.js';
import { ADOPTED, encodeAdoptRequest, RELAY, stdioArePipes } from './adopt.js';
import { FrameDecoder } from './frame-decoder.js';
import { encodeFrame, type HelloFrame, PREAMBLE_LENGTH } from './frames.js';
import type { NativePump } from './native-pump.js';
import { sessionDir, socketPath } from './session-dir.js';
import { HELLO_POLL_MS, HELLO_TIMEOUT_MS } from './timings.js';

/**
 * `burrow shim --serve`, the remote end of one SSH connection. It reads the local side's hello
 * from stdin, exactly (not a byte more), then:
 *
 * - for a new session, becomes its holder (holder.ts), serving the channel on its own stdin and
 *   stdout: it runs the command, and outlives this connection to serve the next ones;
 * - for a resume, or a new session whose holder exists already (an earlier connection for it broke
 *   after the hello), offers the holder its stdin and stdout when they are pipes (adopt.ts): the
 *   holder opens them itself, and this process again carries no data and waits for the holder
 *   to close the socket. Otherwise (not pipes, or the holder answers that it relays) it relays
 *   bytes between the channel and the holder's socket, interpreting nothing after the hello: the
 *   holder speaks the protocol.
 */

export interface ServeDeps {
  readonly dataDir: string;
  /** The program that runs the session's command (`$SHELL -c command`). */
  readonly shell: string;
  /** The command's environment, and its working directory (the user's home). */
  readonly env: NodeJS.ProcessEnv;
  readonly home: string;
}

type ServeRefusal = 'unknown-session' | 'spawn-failed' | 'internal';

export async function runServe(deps: ServeDeps): Promise<number> {
  const fail = (code: ServeRefusal, message: string) => {
    process.stdout.write(encodeFrame({ type: 'refuse', code, message }));
    return 1;
  };
  let hello: { frame: HelloFrame; bytes: Buffer };
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no hello from the local side within ${HELLO_TIMEOUT_MS} ms`)),
        HELLO_TIMEOUT_MS,
      );
    });
    hello = await Promise.race([readHello(0), timeout]);
  } catch (err) {
    return fail('internal', `burrow shim --serve: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }

  let path: string;
  try {
    path = socketPath(sessionDir(deps.dataDir), hello.frame.sessionId);
  } catch (err) {
    return fail('internal', (err as Error).message);
  }
  if (hello.frame.mode.kind === 'new' && !existsSync(path)) {
    let pump: NativePump | undefined;
    try {
      const { pumpFor } = await import('./native-pump.js');
      pump = pumpFor(deps.env.BURROW_SHIM_NATIVE);
    } catch (err) {
      return fail('internal', `burrow shim --serve: ${(err as Error).message}`);
    }
    if ((await holdHere(hello.frame, path, deps, pump)) === 'served') return 0;
    // Not taken: the holder could not start, or another holder of this session (started by a
    // retried first connection) bound the socket first; that one decides.
    if (!existsSync(path)) return fail('spawn-failed', 'the session holder did not start');
  } else if (!existsSync(path)) {
    return fail('unknown-session', 'no such session here (it ended, or its resume window passed)');
  }

  if (stdioArePipes()) {
    const adopted = await askAdoption(path, hello.bytes);
    if (adopted === 'adopted') return 0;
    if (adopted !== 'no-answer') return relay(adopted.socket, adopted.rest, fail);
  }
  // A holder that does not adopt (or a channel that is not pipes): connect and relay.
  const socket = connect(path);
  socket.once('connect', () => socket.write(hello.bytes));
  return relay(socket, Buffer.alloc(0), fail);
}

/**
 * Relays between the channel and `socket` until the holder closes it, interpreting nothing:
 * `rest` is what the holder sent already.
 */
function relay(
  socket: Socket,
  rest: Buffer,
  fail: (code: ServeRefusal, message: string) => number,
): Promise<number> {
  return new Promise<number>((resolve) => {
    const stdin = process.stdin;
    socket.on('error', () => resolve(fail('unknown-session', 'the session holder is gone')));
    const start = () => {
      if (rest.length > 0) process.stdout.write(rest);
      stdin.pipe(socket);
      socket.pipe(process.stdout);
    };
    if (socket.connecting) socket.once('connect', start);
    else start();
    socket.once('close', () => resolve(0));
    stdin.once('end', () => socket.end());
  });
}

/**
 * Offers the holder this process's stdin and stdout (see adopt.ts). Resolves 'adopted' once the
 * holder is done with them (it closes the socket); with the socket to relay on when it answers
 * RELAY; 'no-answer' when it closes the socket without answering (a holder from before adoption).
 */
function askAdoption(
  path: string,
  helloBytes: Buffer,
): Promise<'adopted' | 'no-answer' | { socket: Socket; rest: Buffer }> {
  return new Promise((resolve) => {
    const socket = connect(path);
    ignoreExpectedErrors(socket, 'the session holder socket'); // followed by 'close'
    socket.once('connect', () =>
      socket.write(Buffer.concat([encodeAdoptRequest(process.pid), helloBytes])),
    );
    let answer: number | undefined;
    socket.once('data', (chunk: Buffer) => {
      answer = chunk[0];
      if (answer === RELAY) {
        socket.pause();
        resolve({ socket, rest: chunk.subarray(1) });
      } else if (answer === ADOPTED) {
        socket.resume(); // nothing more comes; wait for the close
      } else socket.destroy();
    });
    // After RELAY the socket is relay()'s; an answer that is neither counts as none.
    socket.once('close', () => resolve(answer === ADOPTED ? 'adopted' : 'no-answer'));
  });
}

/**
 * Holds the new session in this process, on the channel itself (stdin and stdout): no second
 * process to start before the command runs. Resolves once the session is over ('served'), or at
 * once when another holder of this session bound the socket first ('not-taken'; the channel is
 * untouched then). sshd started this process in a session of its own (it leads it, or the
 * user's shell that ran it does) and leaves a command without a pty running when the connection
 * drops, so it outlives the connection as a holder must; from here on `ps` shows it as
 * `burrow shim --hold`.
 */
async function holdHere(
  hello: HelloFrame,
  path: string,
  deps: ServeDeps,
  pump: NativePump | undefined,
): Promise<'served' | 'not-taken'> {
  const { runHolder } = await import('./holder.js');
  let output: Socket | undefined;
  let taken = false;
  await runHolder({
    hello: hello as Parameters<typeof runHolder>[0]['hello'],
    socketPath: path,
    shell: deps.shell,
    env: deps.env,
    cwd: deps.home,
    ...(pump ? { pump } : {}),
    handover: {
      inputFd: 0,
      outputFd: 1,
      // Made only once the channel is taken: if it is not, --serve goes on with its stdout.
      get output() {
        output ??= new Socket({ fd: 1, readable: false, writable: true });
        return output;
      },
      taken: () => {
        taken = true;
        process.title = 'burrow shim --hold';
        // sshd's stderr pipe: once the connection is gone, a write there must not end the holder.
        ignoreExpectedErrors(process.stderr, 'stderr');
      },
    },
  });
  return taken ? 'served' : 'not-taken';
}

/** Reads one hello frame from `fd`, exactly its bytes, so the rest stays in the channel. */
async function readHello(fd: number): Promise<{ frame: HelloFrame; bytes: Buffer }> {
  const decoder = new FrameDecoder();
  const head = await readExactly(fd, PREAMBLE_LENGTH + 4);
  decoder.push(head); // checks the preamble and the length
  const body = await readExactly(fd, head.readUInt32BE(PREAMBLE_LENGTH));
  const frame = decoder.push(body)[0];
  if (frame?.type !== 'hello') throw new Error(`expected a hello, got ${frame?.type ?? 'nothing'}`);
  return { frame, bytes: Buffer.concat([head, body]) };
}

async function readExactly(fd: number, n: number): Promise<Buffer> {
  const buf = Buffer.alloc(n);
  for (let got = 0; got < n; ) {
    let count: number;
    try {
      count = await new Promise<number>((resolve, reject) =>
        read(fd, buf, got, n - got, null, (err, bytes) => (err ? reject(err) : resolve(bytes))),
      );
    } catch (err) {
      // A non-blocking descriptor with nothing yet: wait a little (bounded by the hello timeout).
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
        await sleep(HELLO_POLL_MS);
        continue;
      }
      throw err;
    }
    if (count === 0) throw new Error('the local side sent no hello');
    got += count;
  }
  return buf;
}
