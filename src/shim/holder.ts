import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { existsSync, unlinkSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { coalesceWrites } from '../ssh/coalesce.js';
import { ADOPTED, type Opening, OpeningParser, openPipesOf, RELAY } from './adopt.js';
import { FrameDecoder } from './frame-decoder.js';
import {
  type Command,
  DONE_NONCE,
  type ExitFrame,
  encodeFrame,
  type Frame,
  frameParts,
  type HelloFrame,
  type RefuseCode,
  type SessionOptions,
  Stream,
} from './frames.js';
import { StreamPeer } from './peer.js';
import { type Hold, ringReader } from './ring-reader.js';
import { secretMatches } from './session-dir.js';

/**
 * The remote holder: a small daemon that runs the real command and outlives SSH connections (the
 * first `burrow shim --serve` of a session becomes it; see serve.ts). It serves one connection at
 * a time: the SSH channel it started on; later ones through a unix socket (in the user's 0700
 * session directory),
 * where a --serve either asks the holder to adopt its channel's pipes (adopt.ts) or relays the
 * channel. Every connection must open with a hello carrying this session's id and secret, and a
 * socket connection that has not presented one within the handshake timeout is closed.
 *
 * Lifecycle: start the command → serve connections (a new one replaces the old; each resumes
 * from the offsets the local side reports) → when the command has exited, its output has been
 * acknowledged and the local side has confirmed the exit status (DONE_NONCE), remove the socket
 * and exit. With no connection for `resumeWindowMs`, the command is ended (SIGTERM, then SIGKILL)
 * and the holder exits.
 */

/** Signals the local side may pass on to the command (what a terminal or a supervisor sends). */
const FORWARDED_SIGNALS = new Set(['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']);

/** Where to find sftp-server for a `-s sftp` subsystem request (Debian, Fedora, BSD layouts). */
const SFTP_SERVERS = [
  '/usr/lib/openssh/sftp-server',
  '/usr/libexec/openssh/sftp-server',
  '/usr/libexec/sftp-server',
  '/usr/lib/ssh/sftp-server',
];

/**
 * The SSH channel that brought the hello (whose hello was read already): what the local side
 * sends after it, and where the holder writes.
 */
export interface Handover {
  /** A pipe or socket. */
  readonly inputFd: number;
  /** Read only once the channel is taken. */
  readonly output: Writable;
  /** The socket is bound and the channel is served from now on. */
  taken(): void;
}

export interface HolderConfig {
  readonly hello: HelloFrame & { mode: { kind: 'new'; command: Command; options: SessionOptions } };
  readonly socketPath: string;
  readonly shell: string;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly handover?: Handover;
  /** How long a socket connection may take to present an acceptable hello; default 30 s. */
  readonly handshakeTimeoutMs?: number;
}

type OnChunk = (chunk: Buffer, hold?: Hold) => void;

/** Room beyond the peer's buffer size when reading a handed-over channel into a ring. */
const HANDOVER_SLACK = 2 * 1024 * 1024;

/** The default of HolderConfig.handshakeTimeoutMs. */
const HANDSHAKE_TIMEOUT_MS = 30_000;

/** One connection to the local side: a socket from a --serve, or a handed-over channel. */
interface Conn {
  readonly input: Readable;
  readonly output: Writable;
  close(): void;
  /** Its hello was accepted. */
  admitted?(): void;
}

type Out = Parameters<typeof encodeFrame>[0];

export function runHolder(cfg: HolderConfig): Promise<void> {
  const { sessionId, secret } = cfg.hello;
  const { command, options } = cfg.hello.mode;
  // The local side buffers its stdin with the same capacity it asks of us.
  const peer = new StreamPeer(options.bufferBytes);
  let child: ChildProcess | undefined;
  let spawnError: string | undefined;
  let exit: ExitFrame | undefined;
  let current: Conn | undefined;
  let send: ((f: Out) => void) | undefined;
  let attachedOnce = false;
  let bound = false;
  let windowTimer: NodeJS.Timeout | undefined;

  return new Promise<void>((resolve) => {
    const finish = () => {
      clearTimeout(windowTimer);
      server.close();
      try {
        // Only our own socket: a holder that lost the race to bind leaves the winner's alone.
        if (bound && existsSync(cfg.socketPath)) unlinkSync(cfg.socketPath);
      } catch {
        // gone already
      }
      current?.close();
      resolve();
    };

    const startWindow = () => {
      clearTimeout(windowTimer);
      windowTimer = setTimeout(() => {
        if (child && child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          setTimeout(() => child?.kill('SIGKILL'), 2000).unref();
        }
        finish();
      }, options.resumeWindowMs);
    };

    /** Started only once the socket is bound: a second holder for the same id never runs it. */
    const startProgram = () => {
      try {
        child = startCommand(command, cfg);
        child.on('error', (err) => {
          spawnError = err.message;
        });
        peer.addOutgoing(Stream.stdout, child.stdout!, options.bufferBytes);
        peer.addOutgoing(Stream.stderr, child.stderr!, options.bufferBytes);
        peer.addIncoming(Stream.stdin, child.stdin!);
        child.on('close', (code, signal) => {
          exit = signal
            ? { type: 'exit', code: null, signal }
            : { type: 'exit', code: code ?? 0, signal: null };
          send?.(exit);
        });
      } catch (err) {
        spawnError = (err as Error).message;
      }
    };

    /** Checks a connection's hello; on success the connection becomes the current one. */
    const admit = (conn: Conn, hello: Frame): boolean => {
      const refuse = (code: RefuseCode, message: string) => {
        conn.output.end(encodeFrame({ type: 'refuse', code, message }));
        return false;
      };
      if (hello.type !== 'hello') {
        conn.close();
        return false;
      }
      if (!hello.sessionId.equals(sessionId) || !secretMatches(hello.secret, secret)) {
        return refuse('bad-secret', 'this session does not accept that secret');
      }
      if (spawnError) {
        // Nothing to hold: no reattach can change that, so the holder ends with this refusal.
        refuse('spawn-failed', `cannot start the command: ${spawnError}`);
        setImmediate(finish);
        return false;
      }
      if (hello.mode.kind === 'new' && attachedOnce) {
        return refuse('session-exists', 'this session has started already');
      }
      attachedOnce = true;
      conn.admitted?.();
      clearTimeout(windowTimer);
      current?.close();
      current = conn;
      const write = (f: Out) => {
        if (current === conn) for (const part of frameParts(f)) conn.output.write(part);
      };
      send = write;
      write({
        type: 'welcome',
        resumed: hello.mode.kind === 'resume',
        stdinReceived: peer.delivered(Stream.stdin),
      });
      const received =
        hello.mode.kind === 'resume'
          ? {
              [Stream.stdout]: hello.mode.stdoutReceived,
              [Stream.stderr]: hello.mode.stderrReceived,
            }
          : {};
      peer.attach(write, received);
      if (exit) write(exit);
      return true;
    };

    /**
     * Serves a connection until it ends; `hello` when its handshake was read elsewhere. `open`
     * makes the connection, given what to call with each chunk of its input; `head`: bytes of its
     * input read before it was opened.
     */
    const serve = (open: (onChunk: OnChunk) => Conn, hello?: HelloFrame, head?: Buffer) => {
      const decoder = new FrameDecoder({ afterHandshake: hello !== undefined });
      let authed = false;
      const onChunk: OnChunk = (chunk, hold) => {
        let frames: Frame[];
        try {
          frames = decoder.push(chunk);
        } catch {
          return conn.close();
        }
        for (const frame of frames) {
          if (!authed) {
            if (!admit(conn, frame)) return;
            authed = true;
          } else if (frame.type === 'signal') {
            if (FORWARDED_SIGNALS.has(frame.name)) child?.kill(frame.name as NodeJS.Signals);
          } else if (frame.type === 'ping') {
            if (frame.nonce === DONE_NONCE && exit) return finish();
            send?.({ type: 'pong', nonce: frame.nonce });
          } else {
            try {
              peer.receive(frame, hold);
            } catch {
              return conn.close();
            }
          }
        }
      };
      const conn = open(onChunk);
      coalesceWrites(conn.output);
      conn.output.on('error', () => conn.close());
      conn.input.on('error', () => conn.close());
      if (hello) authed = admit(conn, hello);
      let lost = false;
      const onLost = () => {
        if (lost) return;
        lost = true;
        conn.close();
        if (current !== conn) return;
        current = undefined;
        send = undefined;
        peer.detach();
        startWindow();
      };
      conn.input.once('close', onLost);
      conn.output.once('close', onLost);
      if (head && head.length > 0) onChunk(head);
    };

    /** Serves a socket connection; `head`: bytes read from it already; `hello`: its handshake. */
    const serveSocket = (socket: Socket, head?: Buffer, hello?: HelloFrame) => {
      serve(
        (onChunk) => {
          socket.on('data', (chunk: Buffer) => onChunk(chunk));
          return {
            input: socket,
            output: socket,
            close: () => socket.destroy(),
            admitted: () => socket.setTimeout(0),
          };
        },
        hello,
        head,
      );
    };

    /** Serves the pipes of a --serve that asked for adoption, or relays if they are not usable. */
    const adoptOrRelay = (socket: Socket, pid: number, hello: HelloFrame) => {
      const ours = hello.sessionId.equals(sessionId) && secretMatches(hello.secret, secret);
      const pipes = ours && !spawnError ? openPipesOf(pid) : undefined;
      if (!pipes) {
        socket.write(Buffer.of(RELAY));
        return serveSocket(socket, undefined, hello);
      }
      socket.setTimeout(0); // the hello is checked; the socket now only tells --serve is there
      socket.write(Buffer.of(ADOPTED));
      const output = new Socket({ fd: pipes.outputFd, readable: false, writable: true });
      serve((onChunk) => {
        const conn = channelConn(pipes.inputFd, output, () => socket.destroy(), onChunk);
        // --serve has gone (sshd ended the session): so has the channel.
        socket.once('close', conn.close);
        return conn;
      }, hello);
    };

    /** A connection on a channel's pipes: a handover, or an adoption. */
    const channelConn = (
      inputFd: number,
      output: Writable,
      release: () => void,
      onChunk: OnChunk,
    ): Conn => {
      // Read straight into memory held until the command has taken each payload: room for
      // all the local side may send unacknowledged, and a little more.
      const input = ringReader(inputFd, options.bufferBytes + HANDOVER_SLACK, onChunk);
      const close = () => {
        input.destroy();
        output.destroy();
        release();
      };
      return { input, output, close };
    };

    const server = createServer((socket) => {
      socket.on('error', () => {});
      // Until its hello is accepted: a connection that never sends one is not kept.
      socket.setTimeout(cfg.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS, () => socket.destroy());
      const opening = new OpeningParser();
      const onData = (chunk: Buffer) => {
        let o: Opening | undefined;
        try {
          o = opening.push(chunk);
        } catch {
          return void socket.destroy();
        }
        if (!o) return;
        socket.off('data', onData);
        if (o.kind === 'plain') serveSocket(socket, o.head);
        else adoptOrRelay(socket, o.pid, o.hello);
      };
      socket.on('data', onData);
    });
    server.on('error', () => finish());
    server.listen(cfg.socketPath, () => {
      bound = true;
      startProgram();
      startWindow();
      const h = cfg.handover;
      if (!h) return;
      h.taken();
      serve((onChunk) => channelConn(h.inputFd, h.output, () => {}, onChunk), cfg.hello);
    });
  });
}

function startCommand(command: Command, cfg: HolderConfig): ChildProcess {
  const opts: SpawnOptions = { cwd: cfg.cwd, env: cfg.env, stdio: ['pipe', 'pipe', 'pipe'] };
  if (command.kind === 'argv') {
    // As sshd does: the words joined by spaces, run by the user's shell. That shell is a child
    // of the login shell sshd ran for `burrow shim --serve`, which has read the user's startup
    // files already (its exports are in this environment): SHLVL says so, or bash would take
    // itself for sshd's (stdin a socket, SSH_CLIENT set) and read ~/.bashrc a second time.
    const level = Number.parseInt(cfg.env.SHLVL ?? '', 10);
    const env = { ...cfg.env, SHLVL: String(Number.isSafeInteger(level) && level > 0 ? level : 1) };
    return spawn(cfg.shell, ['-c', command.argv.join(' ')], { ...opts, env });
  }
  if (command.name !== 'sftp') throw new Error(`unknown subsystem "${command.name}"`);
  const server = SFTP_SERVERS.find((p) => existsSync(p));
  if (!server) throw new Error(`no sftp-server found (looked in ${SFTP_SERVERS.join(', ')})`);
  return spawn(server, [], opts);
}
