import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { existsSync, unlinkSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { signalExitStatus } from '../core/signals.js';
import { coalesceWrites } from '../ssh/coalesce.js';
import { FrameDecoder } from './frame-decoder.js';
import {
  type Command,
  type ExitFrame,
  encodeFrame,
  frameParts,
  type HelloFrame,
  type RefuseCode,
  type SessionOptions,
  Stream,
} from './frames.js';
import { StreamPeer } from './peer.js';
import { secretMatches } from './session-dir.js';

/**
 * The remote holder: a small detached daemon that runs the real command and outlives SSH
 * connections. It listens on a unix socket (in the user's 0700 session directory) and serves one
 * connection at a time, relayed by `burrow shim --serve` from the SSH channel; a connection must
 * open with a hello carrying this session's id and secret.
 *
 * Lifecycle: start the command → serve connections (a new one replaces the old; each resumes
 * from the offsets the local side reports) → when the command has exited, its output has been
 * acknowledged and the local side has confirmed the exit status (DONE_NONCE), remove the socket
 * and exit. With no connection for `resumeWindowMs`, the command is ended (SIGTERM, then SIGKILL)
 * and the holder exits.
 */

/** A `ping` with this nonce from the local side means: exit status received, all delivered. */
export const DONE_NONCE = 0xffffffff;

/** Signals the local side may pass on to the command (what a terminal or a supervisor sends). */
const FORWARDED_SIGNALS = new Set(['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']);

/** Where to find sftp-server for a `-s sftp` subsystem request (Debian, Fedora, BSD layouts). */
const SFTP_SERVERS = [
  '/usr/lib/openssh/sftp-server',
  '/usr/libexec/openssh/sftp-server',
  '/usr/libexec/sftp-server',
  '/usr/lib/ssh/sftp-server',
];

export interface HolderConfig {
  readonly hello: HelloFrame & { mode: { kind: 'new'; command: Command; options: SessionOptions } };
  readonly socketPath: string;
  readonly shell: string;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

export function runHolder(cfg: HolderConfig): Promise<void> {
  const { sessionId, secret } = cfg.hello;
  const { command, options } = cfg.hello.mode;
  const peer = new StreamPeer();
  let child: ChildProcess | undefined;
  let spawnError: string | undefined;
  let exit: ExitFrame | undefined;
  let current: Socket | undefined;
  let attachedOnce = false;
  let windowTimer: NodeJS.Timeout | undefined;

  return new Promise<void>((resolve) => {
    const finish = () => {
      clearTimeout(windowTimer);
      server.close();
      try {
        if (existsSync(cfg.socketPath)) unlinkSync(cfg.socketPath);
      } catch {
        // gone already
      }
      current?.destroy();
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
          peerSend(exit);
        });
      } catch (err) {
        spawnError = (err as Error).message;
      }
    };

    let send: ((f: Parameters<typeof encodeFrame>[0]) => void) | undefined;
    const peerSend = (f: Parameters<typeof encodeFrame>[0]) => send?.(f);

    const server = createServer((socket) => {
      socket.on('error', () => {});
      coalesceWrites(socket);
      const decoder = new FrameDecoder();
      let authed = false;
      const refuse = (code: RefuseCode, message: string) => {
        socket.end(encodeFrame({ type: 'refuse', code, message }));
      };
      socket.on('data', (chunk: Buffer) => {
        let frames: ReturnType<FrameDecoder['push']>;
        try {
          frames = decoder.push(chunk);
        } catch {
          socket.destroy();
          return;
        }
        for (const frame of frames) {
          if (!authed) {
            if (frame.type !== 'hello') return socket.destroy();
            if (!frame.sessionId.equals(sessionId) || !secretMatches(frame.secret, secret)) {
              return refuse('bad-secret', 'this session does not accept that secret');
            }
            if (spawnError)
              return refuse('spawn-failed', `cannot start the command: ${spawnError}`);
            if (frame.mode.kind === 'new' && attachedOnce) {
              return refuse('session-exists', 'this session has started already');
            }
            authed = true;
            attachedOnce = true;
            clearTimeout(windowTimer);
            current?.destroy();
            current = socket;
            const write = (f: Parameters<typeof encodeFrame>[0]) => {
              if (current === socket) for (const part of frameParts(f)) socket.write(part);
            };
            send = write;
            write({
              type: 'welcome',
              resumed: frame.mode.kind === 'resume',
              stdinReceived: peer.delivered(Stream.stdin),
            });
            const received =
              frame.mode.kind === 'resume'
                ? {
                    [Stream.stdout]: frame.mode.stdoutReceived,
                    [Stream.stderr]: frame.mode.stderrReceived,
                  }
                : {};
            peer.attach(write, received);
            if (exit) write(exit);
            continue;
          }
          if (frame.type === 'signal') {
            if (FORWARDED_SIGNALS.has(frame.name)) child?.kill(frame.name as NodeJS.Signals);
            continue;
          }
          if (frame.type === 'ping') {
            if (frame.nonce === DONE_NONCE && exit) return finish();
            send?.({ type: 'pong', nonce: frame.nonce });
            continue;
          }
          try {
            peer.receive(frame);
          } catch {
            socket.destroy();
            return;
          }
        }
      });
      socket.on('close', () => {
        if (current !== socket) return;
        current = undefined;
        send = undefined;
        peer.detach();
        startWindow();
      });
    });
    server.on('error', () => finish());
    server.listen(cfg.socketPath, () => {
      startProgram();
      startWindow();
    });
  });
}

function startCommand(command: Command, cfg: HolderConfig): ChildProcess {
  const opts: SpawnOptions = { cwd: cfg.cwd, env: cfg.env, stdio: ['pipe', 'pipe', 'pipe'] };
  if (command.kind === 'argv') {
    // As sshd does: the words joined by spaces, run by the user's shell.
    return spawn(cfg.shell, ['-c', command.argv.join(' ')], opts);
  }
  if (command.name !== 'sftp') throw new Error(`unknown subsystem "${command.name}"`);
  const server = SFTP_SERVERS.find((p) => existsSync(p));
  if (!server) throw new Error(`no sftp-server found (looked in ${SFTP_SERVERS.join(', ')})`);
  return spawn(server, [], opts);
}

/** The status a shell reports for a command killed by `signal`. */
export function exitStatusOf(frame: ExitFrame): number {
  if (frame.signal === null) return frame.code ?? 0;
  return signalExitStatus(frame.signal);
}
