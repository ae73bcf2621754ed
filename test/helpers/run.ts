/**
 * One-shot commands (ssh, rsync, scp, ssh-keygen) run to completion with a time bound. Like
 * long-running programs, each is spawned detached in its own process group and registered with
 * the Scope and the exit hook, so nothing it starts outlives the test.
 */
import { spawn } from 'node:child_process';
import { basename } from 'node:path';

import { mergeEnv } from './proc.js';
import { killAllSync, newToken, registerLive } from './reaper.js';
import type { Scope } from './scope.js';
import { atMost } from './wait.js';

export interface RunOptions {
  /** Written to stdin, which is then closed; without it stdin is empty. */
  input?: string | Buffer;
  /** Default 30 000 ms; on expiry the whole tree is SIGKILLed and `timedOut` is set. */
  timeoutMs?: number;
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Output kept per stream; default 16 MiB (the rest is counted, not kept). */
  maxBytes?: number;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Raw stdout, for binary output. */
  stdoutBuffer: Buffer;
  timedOut: boolean;
  durationMs: number;
}

/**
 * Runs a command to completion and resolves with its status and output; never rejects for a
 * non-zero exit. When it resolves, nothing the command started is left running: leftovers in its
 * process group are SIGKILLed. Rejects only when the command cannot be started.
 */
export function runCommand(
  scope: Scope,
  cmd: string,
  args: string[],
  opts: RunOptions = {},
): Promise<RunResult> {
  const { timeoutMs = 30_000, maxBytes = 16 * 1024 * 1024 } = opts;
  const started = Date.now();
  const token = newToken();
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: mergeEnv(opts.env, token),
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', (err) => {
      if (child.pid === undefined) reject(new Error(`cannot start ${cmd}: ${err.message}`));
    });
    if (child.pid === undefined) return;
    const pid = child.pid;
    const untrack = registerLive(pid, token);
    const kill = (): void => killAllSync(pid, token);
    scope.defer(kill, `kill ${basename(cmd)}`);
    const out = collectBytes(child.stdout!, maxBytes);
    const err = collectBytes(child.stderr!, maxBytes);
    child.stdin!.on('error', () => {});
    child.stdin!.end(opts.input ?? '');
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutMs);
    child.once('exit', async (code, signal) => {
      clearTimeout(timer);
      // Bounded: a descendant that outlives the command may hold the pipes open.
      await atMost(Promise.all([out.done, err.done]), 2000);
      kill();
      untrack();
      child.stdout!.destroy();
      child.stderr!.destroy();
      resolve({
        code,
        signal,
        stdout: out.buffer().toString('utf8'),
        stderr: err.buffer().toString('utf8'),
        stdoutBuffer: out.buffer(),
        timedOut,
        durationMs: Date.now() - started,
      });
    });
  });
}

function collectBytes(
  stream: NodeJS.ReadableStream,
  maxBytes: number,
): { done: Promise<void>; buffer: () => Buffer } {
  const chunks: Buffer[] = [];
  let kept = 0;
  stream.on('data', (chunk: Buffer) => {
    if (kept >= maxBytes) return;
    const part = chunk.subarray(0, maxBytes - kept);
    chunks.push(part);
    kept += part.length;
  });
  const done = new Promise<void>((resolve) => stream.once('close', () => resolve()));
  return { done, buffer: () => Buffer.concat(chunks) };
}
