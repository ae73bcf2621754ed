/**
 * One rsync run, timed from spawn to rsync's own exit. (The harness's runCommand resolves only
 * once the output pipes close, and a transport's last process may hold rsync's stderr a moment
 * after rsync has exited: that wait is not the user's.) Spawned detached with its own
 * BURROW_TEST_TOKEN like every harness process; whatever it started is SIGKILLed once it has
 * exited, and the Scope and the exit hook cover a run that is abandoned.
 */
import { spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';

import {
  atMost,
  killAllSync,
  mergeEnv,
  newToken,
  registerLive,
  type Scope,
} from '../../test/helpers/index.js';

export interface RsyncRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Spawn to exit. */
  seconds: number;
  timedOut: boolean;
  /** Lines of rsync's stderr (the transport's included), with the time since spawn. */
  stderr: { atS: number; text: string }[];
}

export interface RsyncOptions {
  timeoutMs: number;
  /** Called for each stderr line as it arrives (progress, reconnect notices). */
  onStderrLine?: (text: string, atS: number) => void;
}

/** Runs `rsync ...args`; never rejects for a failed transfer, only when rsync cannot start. */
export function runRsync(scope: Scope, args: string[], opts: RsyncOptions): Promise<RsyncRun> {
  const token = newToken();
  const t0 = performance.now();
  const since = () => (performance.now() - t0) / 1000;
  const child = spawn('rsync', args, {
    env: mergeEnv({}, token),
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', (err) => {
      if (child.pid === undefined) reject(new Error(`cannot start rsync: ${err.message}`));
    });
    if (child.pid === undefined) return;
    const pid = child.pid;
    const untrack = registerLive(pid, token);
    const kill = () => killAllSync(pid, token);
    scope.defer(kill, 'kill rsync');

    const stderr: RsyncRun['stderr'] = [];
    const decoder = new StringDecoder('utf8');
    let partial = '';
    const push = (text: string) => {
      const atS = since();
      stderr.push({ atS, text });
      opts.onStderrLine?.(text, atS);
    };
    child.stderr!.on('data', (chunk: Buffer) => {
      const parts = (partial + decoder.write(chunk)).split(/\r?\n/);
      partial = parts.pop() ?? '';
      for (const p of parts) push(p);
    });
    const closed = new Promise<void>((r) => child.stderr!.once('close', () => r()));

    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, opts.timeoutMs);
    child.once('exit', async (code, signal) => {
      const seconds = since();
      clearTimeout(timer);
      // Bounded: a leftover descendant may hold the pipe open; it is killed right after.
      await atMost(closed, 2000);
      const rest = partial + decoder.end();
      if (rest) push(rest);
      kill();
      untrack();
      child.stderr!.destroy();
      resolve({ code, signal, seconds, timedOut, stderr });
    });
  });
}

/** The last `n` stderr lines, for error messages and the report. */
export function stderrTail(run: RsyncRun, n = 6): string {
  return run.stderr
    .slice(-n)
    .map((l) => l.text)
    .join('\n');
}
