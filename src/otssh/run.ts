import { spawn as spawnChild } from 'node:child_process';
import pty from '@lydell/node-pty';
import type { Transcript } from '../audit/transcript.js';
import { signalExitStatus, signalName } from '../core/signals.js';
import type { PtyRequest, SessionControl, SessionStream } from '../ssh/session-server.js';
import { ignoreExpectedErrors } from '../streams/expected-errors.js';

/**
 * Runs the one session's program (a login shell, or a command through the shell as sshd does)
 * and joins it to the SSH channel, recording every byte each way in the transcript.
 *
 * Contract: `done` resolves once the program has exited *and* its output has been delivered to
 * the channel and the transcript; the exit status has then been sent to the client. Input is
 * recorded before it reaches the program, output before it reaches the client. With a pty the
 * program's output is paused while the channel is backed up; without one, pipes give the same.
 */

export interface ProgramSpec {
  readonly shell: string;
  /** Run `shell -c command`; undefined runs `shell -l`. */
  readonly command?: string;
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly pty?: PtyRequest;
}

export interface ProgramResult {
  /** Exit code, or 128 + signal number when killed, as a shell reports it. */
  readonly code: number;
  readonly signal?: string;
}

export interface RunningProgram {
  readonly done: Promise<ProgramResult>;
  /** Ends the program (the client vanished, or the transcript failed). */
  kill(): void;
}

/** A pty the client asked for with a 0×0 size gets this instead. */
const DEFAULT_SIZE = { cols: 80, rows: 24 };

/** Signals a client may send (RFC 4254 names, without SIG). */
const CLIENT_SIGNALS = new Set(['HUP', 'INT', 'QUIT', 'TERM', 'KILL', 'USR1', 'USR2', 'ALRM']);

export function runProgram(
  spec: ProgramSpec,
  stream: SessionStream,
  control: SessionControl,
  transcript: Transcript,
): RunningProgram {
  const args = spec.command === undefined ? ['-l'] : ['-c', spec.command];
  return spec.pty
    ? runWithPty(spec, spec.pty, args, stream, control, transcript)
    : runWithPipes(spec, args, stream, control, transcript);
}

function sane(n: number, fallback: number): number {
  return Number.isInteger(n) && n > 0 && n <= 10_000 ? n : fallback;
}

/** The pty a client asked for, with a usable size (clients without a terminal send 0×0). */
export function usablePty(req: PtyRequest): PtyRequest {
  return {
    cols: sane(req.cols, DEFAULT_SIZE.cols),
    rows: sane(req.rows, DEFAULT_SIZE.rows),
    term: req.term || 'xterm',
  };
}

function runWithPty(
  spec: ProgramSpec,
  req: PtyRequest,
  args: string[],
  stream: SessionStream,
  control: SessionControl,
  transcript: Transcript,
): RunningProgram {
  const { cols, rows, term: termName } = usablePty(req);
  const term = pty.spawn(spec.shell, args, {
    name: termName,
    cols,
    rows,
    cwd: spec.cwd,
    env: { ...spec.env, TERM: termName },
    encoding: null,
  });
  let exited = false;
  term.onData((data: unknown) => {
    const chunk = Buffer.isBuffer(data) ? data : Buffer.from(String(data));
    transcript.output(chunk);
    if (!stream.write(chunk)) {
      term.pause();
      stream.once('drain', () => term.resume());
    }
  });
  stream.on('data', (data: Buffer) => {
    transcript.input(data);
    if (!exited) term.write(data as unknown as string);
  });
  control.onResize((c, r) => {
    const size = { cols: sane(c, DEFAULT_SIZE.cols), rows: sane(r, DEFAULT_SIZE.rows) };
    transcript.resize(size.cols, size.rows);
    if (!exited) term.resize(size.cols, size.rows);
  });
  control.onSignal((name) => {
    if (!exited && CLIENT_SIGNALS.has(name)) term.kill(`SIG${name}`);
  });
  const done = new Promise<ProgramResult>((resolve) => {
    term.onExit(({ exitCode, signal }) => {
      exited = true;
      resolve(result(exitCode, signal ? signalName(signal) : undefined));
    });
  });
  return {
    done,
    kill: () => {
      if (!exited) term.kill('SIGHUP');
    },
  };
}

function runWithPipes(
  spec: ProgramSpec,
  args: string[],
  stream: SessionStream,
  control: SessionControl,
  transcript: Transcript,
): RunningProgram {
  const child = spawnChild(spec.shell, args, {
    cwd: spec.cwd,
    env: spec.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  ignoreExpectedErrors(child.stdin, "the session program's stdin"); // EPIPE once it exited
  child.stdout.on('data', (data: Buffer) => {
    transcript.output(data);
    if (!stream.write(data)) {
      child.stdout.pause();
      stream.once('drain', () => child.stdout.resume());
    }
  });
  child.stderr.on('data', (data: Buffer) => {
    transcript.error(data);
    if (!stream.stderr.write(data)) {
      child.stderr.pause();
      stream.stderr.once('drain', () => child.stderr.resume());
    }
  });
  stream.on('data', (data: Buffer) => {
    transcript.input(data);
    if (!child.stdin.write(data)) {
      stream.pause();
      child.stdin.once('drain', () => stream.resume());
    }
  });
  stream.on('end', () => child.stdin.end());
  control.onResize(() => {});
  control.onSignal((name) => {
    if (CLIENT_SIGNALS.has(name)) child.kill(`SIG${name}` as NodeJS.Signals);
  });
  const done = new Promise<ProgramResult>((resolve) => {
    // 'close' comes after stdout and stderr have ended, so every byte has been read.
    child.on('close', (code, signal) => resolve(result(code ?? 0, signal ?? undefined)));
    child.on('error', (err) => {
      transcript.error(Buffer.from(`otssh: cannot run ${spec.shell}: ${err.message}\n`));
      stream.stderr.write(`otssh: cannot run ${spec.shell}: ${err.message}\r\n`);
      resolve({ code: 127 });
    });
  });
  return {
    done,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGHUP');
    },
  };
}

function result(code: number, signal: string | undefined): ProgramResult {
  if (!signal) return { code };
  return { code: signalExitStatus(signal), signal: signal.replace(/^SIG/, '') };
}
