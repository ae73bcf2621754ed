import { type ChildProcess, spawn } from 'node:child_process';
import { backoffDelay } from '../core/backoff.js';
import { signalExitStatus } from '../core/signals.js';
import { coalesceWrites } from '../ssh/coalesce.js';
import { FrameDecoder } from './frame-decoder.js';
import {
  type Command,
  DONE_NONCE,
  type ExitFrame,
  encodeFrame,
  type Frame,
  FrameError,
  frameParts,
  Stream,
} from './frames.js';
import { StreamPeer } from './peer.js';
import { RepeatFilter } from './repeat-filter.js';
import { newSecret, newSessionId } from './session-dir.js';
import type { SshCommandLine } from './ssh-args.js';

/**
 * The local side of `burrow shim`: runs the real ssh (the user's options, so ~/.ssh/config, -J
 * and agents keep working) with `burrow shim --serve` as the remote command, and speaks the shim
 * protocol over its stdin/stdout. When the channel breaks it starts ssh again (at once, then
 * with backoff) until the resume window has passed since the remote was last reached, and both
 * sides resend what the other has not acknowledged.
 *
 * Exit status: the remote command's (128 + n for a signal); 255 with one line when the session
 * cannot be reached or resumed, as ssh does for connection failures.
 */

export interface LocalConfig {
  readonly ssh: string;
  readonly line: SshCommandLine;
  /** The remote command that starts the serving end, e.g. `burrow shim --serve`. */
  readonly remote: string;
  readonly resumeWindowMs: number;
  readonly bufferBytes: number;
}

const EXIT_CONNECTION = 255;

export async function runLocal(cfg: LocalConfig): Promise<number> {
  const sessionId = newSessionId();
  const secret = newSecret();
  const command: Command = cfg.line.subsystem
    ? { kind: 'subsystem', name: cfg.line.command.join(' ') }
    : { kind: 'argv', argv: [...cfg.line.command] };
  const peer = new StreamPeer(cfg.bufferBytes); // the holder's buffers: what we ask for
  peer.addOutgoingFd(Stream.stdin, 0, cfg.bufferBytes, () => process.stdin);
  peer.addIncoming(Stream.stdout, process.stdout);
  peer.addIncoming(Stream.stderr, process.stderr);

  let exit: ExitFrame | undefined;
  let incomingDone = false;
  let started = false;
  /** Connections tried for a session that has not been welcomed yet. */
  let firstTries = 0;
  /** The remote holds this session already (a first connection got that far): resume it. */
  let resumeOnly = false;
  let lastContact = Date.now();
  let failures = 0;
  /** ssh's own stderr: a failure every attempt repeats is printed once (unless ssh -v). */
  const stderrFilter = cfg.line.verbose ? undefined : new RepeatFilter();

  return new Promise<number>((resolve) => {
    let ssh: ChildProcess | undefined;
    let finished = false;
    const done = (code: number, message?: string) => {
      if (finished) return;
      finished = true;
      if (message) process.stderr.write(`burrow shim: ${message}\n`);
      resolve(code);
    };
    const maybeFinish = () => {
      if (!exit || !incomingDone || finished) return;
      ssh?.stdin?.write(encodeFrame({ type: 'ping', nonce: DONE_NONCE }));
      ssh?.stdin?.end();
      done(exitStatusOf(exit));
    };
    // A signal here does what it does to plain ssh (this process ends, 128 + n) and is passed on
    // to the remote command, so nothing is left running there until the resume window ends.
    for (const [name, n] of [
      ['SIGINT', 2],
      ['SIGTERM', 15],
      ['SIGHUP', 1],
    ] as const) {
      process.once(name, () => {
        const stdin = ssh?.stdin;
        if (stdin?.writable)
          stdin.write(encodeFrame({ type: 'signal', name }), () => done(128 + n));
        else done(128 + n);
        setTimeout(() => done(128 + n), 500).unref();
      });
    }
    peer.onIncomingDone = () => {
      incomingDone = true;
      maybeFinish();
    };

    const connectOnce = () => {
      const args = sshArgs(cfg);
      const child = spawn(cfg.ssh, args, {
        stdio: ['pipe', 'pipe', stderrFilter ? 'pipe' : 'inherit'],
      });
      ssh = child;
      /** Whether this ssh brought back any byte from the remote side. */
      let heard = false;
      const printErr = (b: Buffer) => b.length > 0 && process.stderr.write(b);
      child.stderr?.on('data', (chunk: Buffer) => printErr(stderrFilter!.push(chunk)));
      child.on('error', (err) => done(EXIT_CONNECTION, `cannot run ${cfg.ssh}: ${err.message}`));
      child.stdin!.on('error', () => {});
      coalesceWrites(child.stdin!);
      const send = (f: Frame) => {
        if (ssh === child && child.stdin!.writable) {
          for (const part of frameParts(f)) child.stdin!.write(part);
        }
      };
      const hello =
        started || resumeOnly
          ? {
              kind: 'resume' as const,
              stdoutReceived: peer.delivered(Stream.stdout),
              stderrReceived: peer.delivered(Stream.stderr),
            }
          : {
              kind: 'new' as const,
              command,
              options: { resumeWindowMs: cfg.resumeWindowMs, bufferBytes: cfg.bufferBytes },
            };
      child.stdin!.write(encodeFrame({ type: 'hello', sessionId, secret, mode: hello }));
      const decoder = new FrameDecoder();
      let welcomed = false;
      child.stdout!.on('data', (chunk: Buffer) => {
        heard = true;
        let frames: Frame[];
        try {
          frames = decoder.push(chunk);
        } catch (err) {
          child.kill();
          if (!started && err instanceof FrameError && err.code === 'bad-magic') {
            done(
              EXIT_CONNECTION,
              `the remote side did not answer as burrow shim (is burrow on the remote PATH?); it sent: ${JSON.stringify(err.firstBytes?.toString('latin1') ?? '')}`,
            );
          }
          return;
        }
        for (const f of frames) {
          lastContact = Date.now();
          if (!welcomed) {
            if (f.type === 'refuse') {
              child.kill();
              if (!started && f.code === 'session-exists') {
                resumeOnly = true; // our own first hello got through before that connection broke
                return;
              }
              return done(
                EXIT_CONNECTION,
                `the remote refused the session: ${f.code}: ${f.message}`,
              );
            }
            if (f.type !== 'welcome') return void child.kill();
            welcomed = true;
            started = true;
            failures = 0;
            stderrFilter?.reset();
            peer.attach(send, { [Stream.stdin]: f.stdinReceived });
            continue;
          }
          if (f.type === 'exit') {
            exit = f;
            maybeFinish();
          } else if (f.type === 'ping') send({ type: 'pong', nonce: f.nonce });
          else if (f.type !== 'pong') {
            try {
              peer.receive(f);
            } catch (err) {
              child.kill();
              return done(EXIT_CONNECTION, `protocol error: ${(err as Error).message}`);
            }
          }
        }
      });
      child.on('close', (code) => {
        if (stderrFilter) printErr(stderrFilter.endAttempt());
        if (ssh !== child) return;
        peer.detach();
        if (finished) return;
        if (!started && !heard && code !== 255 && code !== null) {
          // ssh connected and ran the remote command, which said nothing and ended: it is not
          // a burrow shim --serve (ssh's own failures are 255). Another try would end the same.
          const why =
            code === 127 || code === 126
              ? `the remote shell could not run "${cfg.remote}" (exit ${code})`
              : `the remote command "${cfg.remote}" ended (exit ${code}) without answering as burrow shim`;
          return done(
            EXIT_CONNECTION,
            `${why}: is burrow installed and on the remote PATH? (BURROW_SHIM_REMOTE sets the command)`,
          );
        }
        if (!started) {
          // The first connection broke before the session was confirmed. The holder binds its
          // socket before running the command, so trying again with the same session id cannot
          // start the command twice. A few tries, then ssh's own failure stands.
          if (++firstTries >= 4) {
            return done(
              EXIT_CONNECTION,
              code === 255 ? undefined : `ssh exited with status ${code}`,
            );
          }
          setTimeout(connectOnce, resumeOnly ? 0 : 250 * firstTries);
          return;
        }
        const deadline = lastContact + cfg.resumeWindowMs;
        if (Date.now() >= deadline) {
          return done(
            EXIT_CONNECTION,
            'the connection broke and could not be resumed within the resume window',
          );
        }
        failures += 1;
        const wait = backoffDelay(failures, { baseMs: 500, capMs: 10_000 }, Math.random);
        process.stderr.write(
          `burrow shim: connection lost; reconnecting${wait ? ` in ${wait} ms` : ''}\n`,
        );
        setTimeout(connectOnce, Math.min(wait, Math.max(0, deadline - Date.now())));
      });
    };
    connectOnce();
  });
}

/** The real ssh's arguments: the user's options, no pty, keepalives, our remote command. */
function sshArgs(cfg: LocalConfig): string[] {
  const opts = cfg.line.options.filter((o) => o !== '--' && o !== '-s');
  const text = opts.join(' ');
  const alive = /ServerAlive/i.test(text)
    ? []
    : ['-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=3'];
  return [...opts, '-T', ...alive, '--', cfg.line.destination, cfg.remote];
}

/** The status a shell reports for the command: its code, or 128 + n for signal n. */
function exitStatusOf(frame: ExitFrame): number {
  if (frame.signal === null) return frame.code ?? 0;
  return signalExitStatus(frame.signal);
}
