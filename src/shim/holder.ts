import type { ChildProcess } from 'node:child_process';
import { existsSync, unlinkSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { coalesceWrites } from '../streams/coalesce.js';
import { ignoreExpectedErrors } from '../streams/expected-errors.js';
import { ADOPTED, type Opening, OpeningParser, openPipesOf, RELAY } from './adopt.js';
import { FrameDecoder } from './frame-decoder.js';
import {
  type Command,
  type Frame,
  type HelloFrame,
  type SessionOptions,
  Stream,
  type StreamId,
} from './frames.js';
import { startCommand } from './holder-command.js';
import { type HolderConn, type JsConn, jsConn } from './holder-conn.js';
import {
  type ConnId,
  type HolderCommand,
  type HolderEvent,
  HolderMachine,
} from './holder-machine.js';
import { commandPipes, nativeConns } from './holder-native.js';
import { NativePeer } from './native-peer.js';
import type { NativePump } from './native-pump.js';
import { StreamPeer } from './peer.js';
import { type Hold, ringReader } from './ring-reader.js';
import { COMMAND_KILL_GRACE_MS, HANDSHAKE_TIMEOUT_MS, RECEIVE_SLACK } from './timings.js';

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

/**
 * The SSH channel that brought the hello (whose hello was read already): what the local side
 * sends after it, and where the holder writes.
 */
export interface Handover {
  /** A pipe or socket. */
  readonly inputFd: number;
  /** A pipe or socket (the native path writes it; the JavaScript path uses `output`). */
  readonly outputFd: number;
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
  /** The native byte path (native-peer.ts); without it the streams are JavaScript's. */
  readonly pump?: NativePump;
}

type OnChunk = (chunk: Buffer, hold?: Hold) => void;

/**
 * Runs the holder: what to do when is holder-machine.ts's (pure); this driver binds the socket,
 * runs the command, serves the three kinds of connection (the handed-over channel, a relayed
 * socket, adopted pipes) by turning their input into events, and performs the machine's
 * commands. Shutdown (the machine's `finish`): timers cleared, socket closed and removed.
 */
export function runHolder(cfg: HolderConfig): Promise<void> {
  const { sessionId, secret } = cfg.hello;
  const { command, options } = cfg.hello.mode;
  // The local side buffers its stdin with the same capacity it asks of us.
  const { pump } = cfg;
  const native = pump && new NativePeer(pump, options.bufferBytes);
  const js = native ? undefined : new StreamPeer(options.bufferBytes);
  const peer = (native ?? js)!;
  const machine = new HolderMachine({ sessionId, secret, resumeWindowMs: options.resumeWindowMs });
  /** Connections being served, by the machine's id for them. */
  const conns = new Map<ConnId, HolderConn>();
  /** Sockets whose --serve asked for adoption, until the machine answers. */
  const asking = new Map<ConnId, Socket>();
  const timers = new Map<number, NodeJS.Timeout>();
  let nextConn = 1;
  let child: ChildProcess | undefined;
  let bound = false;
  /** The hold of the chunk whose frames are being dispatched (a channel read into a ring). */
  let chunkHold: Hold | undefined;

  return new Promise<void>((resolve) => {
    const dispatch = (event: HolderEvent) => {
      for (const c of machine.step(event)) perform(c);
    };
    const nativeConn = native && nativeConns(pump!, native, dispatch);

    const perform = (c: HolderCommand) => {
      switch (c.type) {
        case 'start-command':
          return startProgram();
        case 'end-command':
          if (child && child.exitCode === null && child.signalCode === null) {
            child.kill('SIGTERM');
            setTimeout(() => child?.kill('SIGKILL'), COMMAND_KILL_GRACE_MS).unref();
          }
          return;
        case 'signal-command':
          child?.kill(c.name);
          return;
        case 'wait':
          timers.set(
            c.timer,
            setTimeout(() => {
              timers.delete(c.timer);
              dispatch({ type: 'timer', timer: c.timer });
            }, c.ms),
          );
          return;
        case 'cancel':
          clearTimeout(timers.get(c.timer));
          timers.delete(c.timer);
          return;
        case 'adopt':
          return adopt(c.conn, c.pid);
        case 'relay': {
          const socket = asking.get(c.conn);
          asking.delete(c.conn);
          if (!socket) return;
          socket.write(Buffer.of(RELAY));
          return serveSocket(c.conn, socket, true);
        }
        case 'admitted':
          return conns.get(c.conn)?.admitted?.();
        case 'welcome':
          return write(c.conn, {
            type: 'welcome',
            resumed: c.resumed,
            stdinReceived: peer.delivered(Stream.stdin),
          });
        case 'attach': {
          const { conn } = c;
          const received: Partial<Record<StreamId, number>> = {};
          if (c.received[1] !== undefined) received[Stream.stdout] = c.received[1];
          if (c.received[2] !== undefined) received[Stream.stderr] = c.received[2];
          const link = conns.get(conn)?.link;
          if (native && link) {
            native.read(link);
            native.attach(link, received);
          } else {
            js?.attach((f) => machine.current === conn && write(conn, f), received);
          }
          return;
        }
        case 'detach':
          return peer.detach();
        case 'deliver':
          try {
            if (native) native.receive(c.frame);
            else js?.receive(c.frame, chunkHold);
          } catch {
            dispatch({ type: 'garbled', conn: c.conn });
          }
          return;
        case 'send':
          return write(c.conn, c.frame);
        case 'refuse':
          conns.get(c.conn)?.endWith({ type: 'refuse', code: c.code, message: c.message });
          return;
        case 'close':
          conns.get(c.conn)?.close();
          conns.delete(c.conn);
          return;
        case 'finish':
          if (c.soon) setImmediate(finish);
          else finish();
      }
    };

    const write = (id: ConnId, f: Frame) => conns.get(id)?.send(f);

    const finish = () => {
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
      native?.close();
      server.close();
      try {
        // Only our own socket: a holder that lost the race to bind leaves the winner's alone.
        if (bound && existsSync(cfg.socketPath)) unlinkSync(cfg.socketPath);
      } catch {
        // gone already
      }
      resolve();
    };

    /** Started only once the socket is bound: a second holder for the same id never runs it. */
    const startProgram = () => {
      try {
        if (native) {
          // The command's stdio are the pump's pipes: its output is read natively.
          const pipes = commandPipes(pump!);
          try {
            child = startCommand(command, cfg, pipes.child);
          } finally {
            pipes.closeChildEnds();
          }
          native.addOutgoingFd(Stream.stdout, pipes.stdout, options.bufferBytes);
          native.addOutgoingFd(Stream.stderr, pipes.stderr, options.bufferBytes);
          native.addIncomingFd(Stream.stdin, pipes.stdin, false);
        } else {
          child = startCommand(command, cfg, ['pipe', 'pipe', 'pipe']);
          js!.addOutgoing(Stream.stdout, child.stdout!, options.bufferBytes);
          js!.addOutgoing(Stream.stderr, child.stderr!, options.bufferBytes);
          js!.addIncoming(Stream.stdin, child.stdin!);
        }
        child.on('error', (err) => dispatch({ type: 'spawn-failed', message: err.message }));
        child.on('close', (code, signal) =>
          dispatch({
            type: 'command-exited',
            frame: signal
              ? { type: 'exit', code: null, signal }
              : { type: 'exit', code: code ?? 0, signal: null },
          }),
        );
      } catch (err) {
        dispatch({ type: 'spawn-failed', message: (err as Error).message });
      }
    };

    /**
     * Serves connection `id` until it ends: its input becomes frame events. `open` makes the
     * connection, given what to call with each chunk of its input; `afterHandshake`: its hello
     * was read elsewhere; `head`: bytes of its input read before it was opened.
     */
    const serve = (
      id: ConnId,
      open: (onChunk: OnChunk) => JsConn,
      afterHandshake: boolean,
      head?: Buffer,
    ) => {
      const decoder = new FrameDecoder({ afterHandshake });
      const onChunk: OnChunk = (chunk, hold) => {
        let frames: Frame[];
        try {
          frames = decoder.push(chunk);
        } catch {
          return dispatch({ type: 'garbled', conn: id });
        }
        chunkHold = hold;
        try {
          for (const frame of frames) {
            if (!conns.has(id)) return;
            dispatch({ type: 'frame', conn: id, frame });
          }
        } finally {
          chunkHold = undefined;
        }
      };
      const conn = open(onChunk);
      conns.set(id, jsConn(conn));
      coalesceWrites(conn.output);
      conn.output.on('error', () => dispatch({ type: 'garbled', conn: id }));
      conn.input.on('error', () => dispatch({ type: 'garbled', conn: id }));
      let lost = false;
      const onLost = () => {
        if (lost) return;
        lost = true;
        conn.close();
        dispatch({ type: 'lost', conn: id });
      };
      conn.input.once('close', onLost);
      conn.output.once('close', onLost);
      if (head && head.length > 0) onChunk(head);
    };

    /** Serves a socket connection; `head`: bytes read from it already. */
    const serveSocket = (id: ConnId, socket: Socket, afterHandshake: boolean, head?: Buffer) => {
      if (nativeConn) {
        conns.set(id, nativeConn.socket(id, socket, afterHandshake, head ?? Buffer.alloc(0)));
        return;
      }
      serve(
        id,
        (onChunk) => {
          socket.on('data', (chunk: Buffer) => onChunk(chunk));
          return {
            input: socket,
            output: socket,
            close: () => socket.destroy(),
            admitted: () => socket.setTimeout(0),
          };
        },
        afterHandshake,
        head,
      );
    };

    /** Serves the pipes of the --serve on socket `id`, or relays if they cannot be opened. */
    const adopt = (id: ConnId, pid: number) => {
      const socket = asking.get(id);
      if (!socket) return;
      const pipes = openPipesOf(pid);
      if (!pipes) return dispatch({ type: 'adoption-failed', conn: id });
      asking.delete(id);
      socket.setTimeout(0); // the hello is checked; the socket now only tells --serve is there
      socket.write(Buffer.of(ADOPTED));
      const channel = nextConn++;
      if (nativeConn) {
        const fds = { readFd: pipes.inputFd, writeFd: pipes.outputFd };
        const conn = nativeConn.channel(channel, fds, () => socket.destroy());
        socket.once('close', conn.close);
        conns.set(channel, conn);
        return dispatch({ type: 'adopted', conn: id, channel });
      }
      const output = new Socket({ fd: pipes.outputFd, readable: false, writable: true });
      serve(
        channel,
        (onChunk) => {
          const conn = channelConn(pipes.inputFd, output, () => socket.destroy(), onChunk);
          // --serve has gone (sshd ended the session): so has the channel.
          socket.once('close', conn.close);
          return conn;
        },
        true,
      );
      dispatch({ type: 'adopted', conn: id, channel });
    };

    /** A connection on a channel's pipes: a handover, or an adoption. */
    const channelConn = (
      inputFd: number,
      output: Writable,
      release: () => void,
      onChunk: OnChunk,
    ): JsConn => {
      // Read straight into memory held until the command has taken each payload: room for
      // all the local side may send unacknowledged, and a little more.
      const input = ringReader(inputFd, options.bufferBytes + RECEIVE_SLACK, onChunk);
      const close = () => {
        input.destroy();
        output.destroy();
        release();
      };
      return { input, output, close };
    };

    const server = createServer((socket) => {
      ignoreExpectedErrors(socket, 'a connection to the holder'); // ends through 'close'
      // Until its hello is accepted: a connection that never sends one is not kept.
      socket.setTimeout(cfg.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS, () => socket.destroy());
      const id = nextConn++;
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
        if (o.kind === 'plain') return serveSocket(id, socket, false, o.head);
        asking.set(id, socket);
        socket.once('close', () => asking.delete(id));
        dispatch({ type: 'adoption', conn: id, pid: o.pid, hello: o.hello });
      };
      socket.on('data', onData);
    });
    server.on('error', () => dispatch({ type: 'server-failed' }));
    server.listen(cfg.socketPath, () => {
      bound = true;
      dispatch({ type: 'listening' });
      const h = cfg.handover;
      if (!h) return;
      h.taken();
      const id = nextConn++;
      if (nativeConn) {
        const fds = { readFd: h.inputFd, writeFd: h.outputFd };
        conns.set(id, nativeConn.handover(id, fds));
      } else serve(id, (onChunk) => channelConn(h.inputFd, h.output, () => {}, onChunk), true);
      dispatch({ type: 'frame', conn: id, frame: cfg.hello });
    });
  });
}
