import type { ChildProcess } from 'node:child_process';
import { coalesceWrites } from '../streams/coalesce.js';
import { ignoreExpectedErrors } from '../streams/expected-errors.js';
import { FrameDecoder } from './frame-decoder.js';
import {
  type Command,
  DONE_NONCE,
  encodeFrame,
  type Frame,
  FrameError,
  frameParts,
  Stream,
} from './frames.js';
import {
  type AttemptId,
  type LocalCommand,
  type LocalEvent,
  LocalMachine,
} from './local-machine.js';
import { Link, NativePeer } from './native-peer.js';
import type { NativePump } from './native-pump.js';
import { StreamPeer } from './peer.js';
import { RepeatFilter } from './repeat-filter.js';
import { newSecret, newSessionId } from './session-dir.js';
import type { SshCommandLine } from './ssh-args.js';
import { type SshRun, startSsh } from './ssh-start.js';

/**
 * The local side of `burrow shim`: runs the real ssh (the user's options, so ~/.ssh/config, -J
 * and agents keep working) with `burrow shim --serve` as the remote command, and speaks the shim
 * protocol over its stdin/stdout. When the channel breaks it starts ssh again (at once, then
 * with backoff) until the resume window has passed since the remote was last reached, and both
 * sides resend what the other has not acknowledged.
 *
 * Exit status: the remote command's (128 + n for a signal); 255 with one line when the session
 * cannot be reached or resumed, as ssh does for connection failures.
 *
 * What to do when is local-machine.ts's (pure); this is its driver: it runs ssh, decodes its
 * output into events, and performs the machine's commands on ssh, the streams and the clock.
 */

export interface LocalConfig {
  readonly ssh: string;
  readonly line: SshCommandLine;
  /** The remote command that starts the serving end, e.g. `burrow shim --serve`. */
  readonly remote: string;
  readonly resumeWindowMs: number;
  readonly bufferBytes: number;
  /**
   * The native byte path (native-peer.ts), when it loaded and stdin and stdout are not terminals:
   * it then reads fd 0 and writes fd 1 itself. Without it the streams are JavaScript's.
   */
  readonly pump?: NativePump;
  /**
   * The first attempt's ssh when the caller started it already (startSsh with this ssh, line,
   * remote and pump), so its connection overlaps loading the rest of the local side.
   */
  readonly first?: SshRun;
}

export async function runLocal(cfg: LocalConfig): Promise<number> {
  const sessionId = newSessionId();
  const secret = newSecret();
  const command: Command = cfg.line.subsystem
    ? { kind: 'subsystem', name: cfg.line.command.join(' ') }
    : { kind: 'argv', argv: [...cfg.line.command] };
  // The holder's buffers are what we ask for. stderr is shared with the shim's own lines and
  // ssh's: written from JavaScript on either path.
  const { pump } = cfg;
  const native = pump && new NativePeer(pump, cfg.bufferBytes);
  const js = native ? undefined : new StreamPeer(cfg.bufferBytes);
  const peer = (native ?? js)!;
  if (native) {
    native.addOutgoingFd(Stream.stdin, 0, cfg.bufferBytes);
    native.addIncomingFd(Stream.stdout, 1, true);
  } else if (js) {
    js.addOutgoingFd(Stream.stdin, 0, cfg.bufferBytes, () => process.stdin);
    js.addIncoming(Stream.stdout, process.stdout);
  }
  peer.addIncoming(Stream.stderr, process.stderr);
  /** ssh's own stderr: a failure every attempt repeats is printed once (unless ssh -v). */
  const stderrFilter = cfg.line.verbose ? undefined : new RepeatFilter();
  const machine = new LocalMachine(
    { remote: cfg.remote, resumeWindowMs: cfg.resumeWindowMs },
    Math.random,
    Date.now(),
  );
  /** The latest attempt's ssh (the machine ignores the others); `link`: on the native path. */
  let ssh:
    | { readonly attempt: AttemptId; readonly child: ChildProcess; readonly link?: Link }
    | undefined;
  const timers = new Set<NodeJS.Timeout>();
  /** Resolves once the last frames written on the native path are out (or could not be). */
  let settled: Promise<void> = Promise.resolve();

  return new Promise<number>((resolve) => {
    const dispatch = (event: LocalEvent) => {
      for (const c of machine.step(event, Date.now())) perform(c);
    };
    const stdinOf = (attempt: AttemptId) =>
      ssh?.attempt === attempt ? ssh.child.stdin : undefined;
    const linkOf = (attempt: AttemptId) => (ssh?.attempt === attempt ? ssh.link : undefined);

    const perform = (c: LocalCommand) => {
      switch (c.type) {
        case 'connect':
          return connect(c.attempt, c.mode);
        case 'kill':
          if (ssh?.attempt === c.attempt) ssh.child.kill();
          return;
        case 'attach': {
          stderrFilter?.reset();
          const received = { [Stream.stdin]: c.stdinReceived };
          const link = linkOf(c.attempt);
          if (native && link) native.attach(link, received);
          else js?.attach((f) => send(c.attempt, f), received);
          return;
        }
        case 'detach':
          return peer.detach();
        case 'deliver':
          try {
            peer.receive(c.frame);
          } catch (err) {
            dispatch({
              type: 'protocol-error',
              attempt: c.attempt,
              message: (err as Error).message,
            });
          }
          return;
        case 'send':
          return send(c.attempt, c.frame);
        case 'forward-signal': {
          const link = linkOf(c.attempt);
          if (link) {
            link.send({ type: 'signal', name: c.name });
            void link.written().then(() => dispatch({ type: 'signal-sent' }));
            return;
          }
          const stdin = stdinOf(c.attempt);
          if (stdin?.writable) {
            stdin.write(encodeFrame({ type: 'signal', name: c.name }), () =>
              dispatch({ type: 'signal-sent' }),
            );
          } else dispatch({ type: 'signal-sent' });
          return;
        }
        case 'hang-up': {
          const link = linkOf(c.attempt);
          if (link) {
            link.send({ type: 'ping', nonce: DONE_NONCE });
            settled = link.written().then(() => native?.closeLink(link));
            return;
          }
          const stdin = stdinOf(c.attempt);
          stdin?.write(encodeFrame({ type: 'ping', nonce: DONE_NONCE }));
          stdin?.end();
          return;
        }
        case 'say':
          process.stderr.write(`burrow shim: ${c.line}\n`);
          return;
        case 'wait': {
          const t = setTimeout(() => {
            timers.delete(t);
            dispatch({ type: 'timer', timer: c.timer });
          }, c.ms);
          timers.add(t);
          return;
        }
        case 'exit':
          for (const t of timers) clearTimeout(t);
          if (c.message) process.stderr.write(`burrow shim: ${c.message}\n`);
          void settled.then(() => resolve(c.code));
      }
    };

    /** Writes `f` to the attempt's ssh while it is the latest one and can take it. */
    const send = (attempt: AttemptId, f: Frame) => {
      const link = linkOf(attempt);
      if (link) return link.send(f);
      const stdin = stdinOf(attempt);
      if (stdin?.writable) for (const part of frameParts(f)) stdin.write(part);
    };

    /**
     * The attempt's ssh (the first one may be running already: cfg.first): its stderr goes
     * through the filter; the rest is the caller's.
     */
    let first = cfg.first;
    const runSsh = (): SshRun => {
      const run = first ?? startSsh({ ssh: cfg.ssh, line: cfg.line, remote: cfg.remote, pump });
      first = undefined;
      const { child } = run;
      const printErr = (b: Buffer) => b.length > 0 && process.stderr.write(b);
      if (stderrFilter) {
        child.stderr?.on('data', (chunk: Buffer) => printErr(stderrFilter.push(chunk)));
      }
      run.onError((err) =>
        dispatch({ type: 'ssh-failed', message: `cannot run ${cfg.ssh}: ${err.message}` }),
      );
      run.onClose(() => {
        if (stderrFilter) printErr(stderrFilter.endAttempt());
      });
      return run;
    };

    const helloFor = (mode: 'new' | 'resume'): Frame => {
      const hello =
        mode === 'resume'
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
      return { type: 'hello', sessionId, secret, mode: hello };
    };

    const connect = (attempt: AttemptId, mode: 'new' | 'resume') => {
      const run = runSsh();
      if (run.link) connectNative(run, run.link, attempt, mode);
      else connectJs(run, attempt, mode);
    };

    const connectJs = (run: SshRun, attempt: AttemptId, mode: 'new' | 'resume') => {
      const { child } = run;
      ssh = { attempt, child };
      /** Whether this ssh brought back any byte from the remote side. */
      let heard = false;
      // Write errors (EPIPE once ssh is gone) end in its 'close', which the machine handles.
      ignoreExpectedErrors(child.stdin!, `${cfg.ssh}'s stdin`);
      coalesceWrites(child.stdin!);
      child.stdin!.write(encodeFrame(helloFor(mode)));
      const decoder = new FrameDecoder();
      child.stdout!.on('data', (chunk: Buffer) => {
        heard = true;
        let frames: Frame[];
        try {
          frames = decoder.push(chunk);
        } catch (err) {
          const notBurrow =
            err instanceof FrameError && err.code === 'bad-magic'
              ? (err.firstBytes?.toString('latin1') ?? '')
              : undefined;
          return dispatch(
            notBurrow === undefined
              ? { type: 'garbled', attempt }
              : { type: 'garbled', attempt, notBurrow },
          );
        }
        for (const frame of frames) dispatch({ type: 'frame', attempt, frame });
      });
      run.onClose((code) => dispatch({ type: 'ssh-exited', attempt, code, heard }));
    };

    /**
     * ssh on pipes of the native pump: the inbound reads its output (handshake frames included)
     * from the start; the attempt has ended once ssh has exited and its output has been read.
     */
    const connectNative = (
      run: SshRun,
      fds: NonNullable<SshRun['link']>,
      attempt: AttemptId,
      mode: 'new' | 'resume',
    ) => {
      const { child } = run;
      let heard = false;
      let readDone = false;
      let code: number | null | undefined;
      const ended = () => {
        if (!readDone || code === undefined) return;
        native!.closeLink(link);
        dispatch({ type: 'ssh-exited', attempt, code, heard });
      };
      const link = new Link(pump!, fds, false, {
        frame: (frame) => {
          heard = true;
          dispatch({ type: 'frame', attempt, frame });
        },
        garbled: (notBurrow) => {
          heard = true;
          readDone = true;
          dispatch(
            notBurrow === undefined
              ? { type: 'garbled', attempt }
              : { type: 'garbled', attempt, notBurrow },
          );
          ended();
        },
        closed: (any) => {
          heard ||= any;
          readDone = true;
          ended();
        },
      });
      ssh = { attempt, child, link };
      link.send(helloFor(mode));
      native!.read(link);
      run.onClose((c) => {
        code = c;
        ended();
      });
    };

    peer.onIncomingDone = () => dispatch({ type: 'incoming-done' });
    // A signal here does what it does to plain ssh (this process ends, 128 + n) and is passed on
    // to the remote command, so nothing is left running there until the resume window ends.
    for (const [name, n] of [
      ['SIGINT', 2],
      ['SIGTERM', 15],
      ['SIGHUP', 1],
    ] as const) {
      process.once(name, () => dispatch({ type: 'signal', name, status: 128 + n }));
    }
    dispatch({ type: 'start' });
  });
}
