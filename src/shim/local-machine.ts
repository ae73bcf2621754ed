import { backoffDelay } from '../core/backoff.js';
import { signalExitStatus } from '../core/signals.js';
import type { ExitFrame, Frame } from './frames.js';
import {
  FIRST_CONNECT_TRIES,
  FIRST_RETRY_STEP_MS,
  RECONNECT_BACKOFF,
  SIGNAL_FORWARD_GRACE_MS,
} from './timings.js';

/**
 * The local side of `burrow shim` as a pure state machine: events in (what ssh and the remote
 * did), commands out (run ssh, hand frames to the streams, wait, exit); no processes, streams or
 * timers. The driver (local.ts) performs the commands and feeds back what happened; the clock
 * and the random source come with each event and the constructor.
 *
 * Contract:
 * - One ssh runs at a time (an *attempt*); only the latest attempt's frames and exit count, and a
 *   killed attempt's later frames are ignored.
 * - Before the session is confirmed (no welcome yet): a remote that answers with something that
 *   is not the shim protocol, or a remote command that ends without a byte and not as ssh's own
 *   failure (255), stops the shim at once with 255 and one line; any other failure is tried
 *   FIRST_CONNECT_TRIES times in all (n × FIRST_RETRY_STEP_MS apart), then ssh's failure stands.
 *   A refusal `session-exists` means an earlier hello of ours got through: resume, at once.
 * - After the welcome: a lost connection is retried (at once, then with RECONNECT_BACKOFF) until
 *   the resume window has passed since the remote was last heard from; then 255 and one line.
 *   Each retry says `connection lost; reconnecting` once.
 * - The shim exits with the remote command's status (128 + n for a signal) once the exit frame
 *   has come and every incoming stream is delivered, telling the holder so (the DONE ping).
 * - A signal is passed on to the remote command, and the shim exits 128 + n once that frame is
 *   written, or after SIGNAL_FORWARD_GRACE_MS.
 * - `exit` is the last command, exactly once; after it every event is ignored.
 */

export type AttemptId = number;

export type ForwardedSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP';

export type LocalEvent =
  | { readonly type: 'start' }
  /** A frame the attempt's ssh brought from the remote. */
  | { readonly type: 'frame'; readonly attempt: AttemptId; readonly frame: Frame }
  /**
   * The attempt's output could not be decoded; `notBurrow`: its first bytes, when they are not
   * the shim protocol at all (the remote ran something else).
   */
  | { readonly type: 'garbled'; readonly attempt: AttemptId; readonly notBurrow?: string }
  /** A frame the streams could not take (an offset out of order…). */
  | { readonly type: 'protocol-error'; readonly attempt: AttemptId; readonly message: string }
  /** The attempt's ssh exited; `heard`: it brought back at least one byte. */
  | {
      readonly type: 'ssh-exited';
      readonly attempt: AttemptId;
      readonly code: number | null;
      readonly heard: boolean;
    }
  /** ssh could not be run at all; `message` says so. */
  | { readonly type: 'ssh-failed'; readonly message: string }
  /** stdout and stderr have both ended and been delivered. */
  | { readonly type: 'incoming-done' }
  | { readonly type: 'signal'; readonly name: ForwardedSignal; readonly status: number }
  /** The signal frame has been written (or could not be: ssh's stdin is closed). */
  | { readonly type: 'signal-sent' }
  | { readonly type: 'timer'; readonly timer: number };

export type LocalCommand =
  /** Run ssh; its hello starts the session (`new`) or resumes it (`resume`). */
  | { readonly type: 'connect'; readonly attempt: AttemptId; readonly mode: 'new' | 'resume' }
  | { readonly type: 'kill'; readonly attempt: AttemptId }
  /** The session is confirmed on this attempt: stream through it, resending stdin from there. */
  | { readonly type: 'attach'; readonly attempt: AttemptId; readonly stdinReceived: number }
  /** The connection is gone: stop sending until the next attach. */
  | { readonly type: 'detach' }
  /** A data, eof or ack frame for the streams. */
  | { readonly type: 'deliver'; readonly attempt: AttemptId; readonly frame: Frame }
  | { readonly type: 'send'; readonly attempt: AttemptId; readonly frame: Frame }
  /** Write the signal frame to the attempt's ssh; report `signal-sent` once written. */
  | { readonly type: 'forward-signal'; readonly attempt: AttemptId; readonly name: ForwardedSignal }
  /** The session is over: tell the holder (DONE ping) and close ssh's stdin. */
  | { readonly type: 'hang-up'; readonly attempt: AttemptId }
  /** One line on stderr, after `burrow shim: `. */
  | { readonly type: 'say'; readonly line: string }
  | { readonly type: 'wait'; readonly timer: number; readonly ms: number }
  | { readonly type: 'exit'; readonly code: number; readonly message?: string };

export interface LocalMachineConfig {
  /** The remote command that starts the serving end (for the messages). */
  readonly remote: string;
  readonly resumeWindowMs: number;
}

/** ssh's status for its own failures (cannot connect, connection lost). */
export const EXIT_CONNECTION = 255;

type Phase = 'connecting' | 'waiting' | 'signalled' | 'done';

export class LocalMachine {
  readonly #cfg: LocalMachineConfig;
  readonly #random: () => number;
  #phase: Phase = 'connecting';
  #attempt: AttemptId = 0;
  #nextTimer = 1;
  #timer: number | undefined;
  /** The latest attempt was killed: its later frames are ignored. */
  #killed = false;
  /** The latest attempt got the welcome. */
  #welcomed = false;
  /** Some attempt got the welcome: the session is confirmed. */
  #started = false;
  /** The remote holds this session already (a first connection got that far): resume it. */
  #resumeOnly = false;
  /** Connections tried for a session that has not been welcomed yet. */
  #firstTries = 0;
  /** Consecutive lost connections since the last welcome. */
  #failures = 0;
  #lastContact: number;
  #exit: ExitFrame | undefined;
  #incomingDone = false;
  #signalStatus = 0;

  constructor(cfg: LocalMachineConfig, random: () => number, now: number) {
    this.#cfg = cfg;
    this.#random = random;
    this.#lastContact = now;
  }

  get finished(): boolean {
    return this.#phase === 'done';
  }

  step(event: LocalEvent, now: number): LocalCommand[] {
    if (this.#phase === 'done') return [];
    switch (event.type) {
      case 'start':
        return this.#attempt === 0 ? this.#connect() : [];
      case 'frame':
        if (event.attempt !== this.#attempt || this.#killed) return [];
        this.#lastContact = now;
        return this.#frame(event.frame);
      case 'garbled':
        if (event.attempt !== this.#attempt) return [];
        if (!this.#started && event.notBurrow !== undefined) {
          return [
            this.#kill(),
            ...this.#end(
              EXIT_CONNECTION,
              `the remote side did not answer as burrow shim (is burrow on the remote PATH?); it sent: ${JSON.stringify(event.notBurrow)}`,
            ),
          ];
        }
        return [this.#kill()];
      case 'protocol-error':
        if (event.attempt !== this.#attempt) return [];
        return [this.#kill(), ...this.#end(EXIT_CONNECTION, `protocol error: ${event.message}`)];
      case 'ssh-exited':
        if (event.attempt !== this.#attempt) return [];
        return [{ type: 'detach' }, ...this.#sshExited(event.code, event.heard, now)];
      case 'ssh-failed':
        return this.#end(EXIT_CONNECTION, event.message);
      case 'incoming-done':
        this.#incomingDone = true;
        return this.#maybeFinish();
      case 'signal':
        return this.#signal(event.name, event.status);
      case 'signal-sent':
        return this.#phase === 'signalled' ? this.#end(this.#signalStatus) : [];
      case 'timer':
        if (event.timer !== this.#timer) return [];
        this.#timer = undefined;
        if (this.#phase === 'signalled') return this.#end(this.#signalStatus);
        return this.#connect();
    }
  }

  #frame(f: Frame): LocalCommand[] {
    const attempt = this.#attempt;
    if (!this.#welcomed) {
      if (f.type === 'refuse') {
        if (!this.#started && f.code === 'session-exists') {
          this.#resumeOnly = true; // our own first hello got through before that connection broke
          return [this.#kill()];
        }
        return [
          this.#kill(),
          ...this.#end(EXIT_CONNECTION, `the remote refused the session: ${f.code}: ${f.message}`),
        ];
      }
      if (f.type !== 'welcome') return [this.#kill()];
      this.#welcomed = true;
      this.#started = true;
      this.#failures = 0;
      return [{ type: 'attach', attempt, stdinReceived: f.stdinReceived }];
    }
    switch (f.type) {
      case 'exit':
        this.#exit = f;
        return this.#maybeFinish();
      case 'ping':
        return [{ type: 'send', attempt, frame: { type: 'pong', nonce: f.nonce } }];
      case 'pong':
        return [];
      default:
        return [{ type: 'deliver', attempt, frame: f }];
    }
  }

  #sshExited(code: number | null, heard: boolean, now: number): LocalCommand[] {
    if (this.#phase === 'signalled') return [];
    const remote = this.#cfg.remote;
    if (!this.#started && !heard && code !== EXIT_CONNECTION && code !== null) {
      // ssh connected and ran the remote command, which said nothing and ended: it is not a
      // burrow shim --serve (ssh's own failures are 255). Another try would end the same.
      const why =
        code === 127 || code === 126
          ? `the remote shell could not run "${remote}" (exit ${code})`
          : `the remote command "${remote}" ended (exit ${code}) without answering as burrow shim`;
      return this.#end(
        EXIT_CONNECTION,
        `${why}: is burrow installed and on the remote PATH? (BURROW_SHIM_REMOTE sets the command)`,
      );
    }
    if (!this.#started) {
      // The first connection broke before the session was confirmed. The holder binds its
      // socket before running the command, so trying again with the same session id cannot
      // start the command twice. A few tries, then ssh's own failure stands.
      this.#firstTries += 1;
      if (this.#firstTries >= FIRST_CONNECT_TRIES) {
        return this.#end(
          EXIT_CONNECTION,
          code === EXIT_CONNECTION ? undefined : `ssh exited with status ${code}`,
        );
      }
      return this.#wait(this.#resumeOnly ? 0 : FIRST_RETRY_STEP_MS * this.#firstTries);
    }
    const deadline = this.#lastContact + this.#cfg.resumeWindowMs;
    if (now >= deadline) {
      return this.#end(
        EXIT_CONNECTION,
        'the connection broke and could not be resumed within the resume window',
      );
    }
    this.#failures += 1;
    const wait = backoffDelay(this.#failures, RECONNECT_BACKOFF, this.#random);
    return [
      { type: 'say', line: `connection lost; reconnecting${wait ? ` in ${wait} ms` : ''}` },
      ...this.#wait(Math.min(wait, Math.max(0, deadline - now))),
    ];
  }

  #signal(name: ForwardedSignal, status: number): LocalCommand[] {
    const forward: LocalCommand = { type: 'forward-signal', attempt: this.#attempt, name };
    // A second signal is passed on too; the first one's status stands.
    if (this.#phase === 'signalled') return [forward];
    this.#phase = 'signalled';
    this.#signalStatus = status;
    return [forward, ...this.#wait(SIGNAL_FORWARD_GRACE_MS)];
  }

  #maybeFinish(): LocalCommand[] {
    if (!this.#exit || !this.#incomingDone) return [];
    return [{ type: 'hang-up', attempt: this.#attempt }, ...this.#end(exitStatusOf(this.#exit))];
  }

  #connect(): LocalCommand[] {
    this.#attempt += 1;
    this.#killed = false;
    this.#welcomed = false;
    this.#phase = 'connecting';
    const mode = this.#started || this.#resumeOnly ? 'resume' : 'new';
    return [{ type: 'connect', attempt: this.#attempt, mode }];
  }

  #kill(): LocalCommand {
    this.#killed = true;
    return { type: 'kill', attempt: this.#attempt };
  }

  #wait(ms: number): LocalCommand[] {
    this.#timer = this.#nextTimer++;
    if (this.#phase !== 'signalled') this.#phase = 'waiting';
    return [{ type: 'wait', timer: this.#timer, ms }];
  }

  #end(code: number, message?: string): LocalCommand[] {
    this.#phase = 'done';
    this.#timer = undefined;
    return [message === undefined ? { type: 'exit', code } : { type: 'exit', code, message }];
  }
}

/** The status a shell reports for the command: its code, or 128 + n for signal n. */
export function exitStatusOf(frame: ExitFrame): number {
  if (frame.signal === null) return frame.code ?? 0;
  return signalExitStatus(frame.signal);
}
