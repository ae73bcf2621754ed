/**
 * Long-running programs under test (the burrow relay, sshd, `ssh -N -R …`). Every process is
 * spawned detached, in its own process group, with its own BURROW_TEST_TOKEN, and registered with
 * the Scope: when the scope closes it is stopped (stop signal to the group, then SIGKILL to every
 * member, see reaper.ts), and the exit hook in reaper.ts covers a test process that dies first.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { basename } from 'node:path';
import { StringDecoder } from 'node:string_decoder';

import { anyAlive, members, newToken, registerLive, signalAll, TOKEN_ENV } from './reaper.js';
import type { Scope } from './scope.js';
import { atMost, WaitTimeoutError } from './wait.js';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the program could not be started or waited on. */
  error?: Error;
}

export type StreamName = 'stdout' | 'stderr';

export interface OutputLine {
  stream: StreamName;
  text: string;
  /** Date.now() when the line was complete. */
  at: number;
}

export interface ProcOptions {
  /** Used in messages and diagnostics; default: the command's base name. */
  name?: string;
  cwd?: string;
  /** Merged over process.env; an undefined value removes the variable. */
  env?: Record<string, string | undefined>;
  /** Default 'pipe' (open until stop, so a program reading stdin blocks instead of seeing EOF). */
  stdin?: 'pipe' | 'ignore';
  /** Signal stop() sends first; default SIGTERM. */
  stopSignal?: NodeJS.Signals;
  /** How long stop() waits after stopSignal before SIGKILL; default 3000 ms. */
  stopGraceMs?: number;
  /** Lines kept (oldest dropped first); default 10 000. */
  maxLines?: number;
  /** The BURROW_TEST_TOKEN to give the process; default a fresh one (see reaper.ts). */
  token?: string;
}

export interface LineWaitOptions {
  /** Which stream to match; default 'any'. */
  stream?: StreamName | 'any';
  /** Default 10 000 ms. */
  timeoutMs?: number;
  /** Absolute line index to start matching at (see mark()); default 0, i.e. all output so far. */
  from?: number;
}

/** A bound on waiting for the exit after SIGKILL; exceeding it means something is badly wrong. */
const KILL_WAIT_MS = 5000;

/** process.env overlaid with `env` (undefined removes a variable), marked with `token`. */
export function mergeEnv(
  env: Record<string, string | undefined> | undefined,
  token: string,
): NodeJS.ProcessEnv {
  const merged: NodeJS.ProcessEnv = { ...process.env, [TOKEN_ENV]: token };
  for (const [key, value] of Object.entries(env ?? {})) {
    if (value === undefined) delete merged[key];
    else merged[key] = value;
  }
  return merged;
}

export class Proc {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** The BURROW_TEST_TOKEN in its environment. */
  readonly token: string;
  private readonly lines: OutputLine[] = [];
  private dropped = 0;
  private readonly maxLines: number;
  private readonly listeners = new Set<() => void>();
  private exitInfo: ExitInfo | undefined;
  private readonly exited: Promise<ExitInfo>;
  private readonly untrack: () => void;
  private stopping: Promise<ExitInfo> | undefined;

  /** Use startProc(); the constructor assumes `child` was spawned detached and has a pid. */
  constructor(
    child: ChildProcess,
    name: string,
    private readonly opts: ProcOptions,
  ) {
    this.child = child;
    this.name = name;
    this.pid = child.pid!;
    this.token = opts.token!;
    this.maxLines = opts.maxLines ?? 10_000;
    this.untrack = registerLive(this.pid, this.token);
    const ended = [this.collect('stdout'), this.collect('stderr')];
    this.exited = new Promise((resolve) => {
      const finish = (info: ExitInfo): void => {
        // Output written just before exit may still be in the pipes: give the reads a moment
        // (bounded, since a surviving descendant can hold the pipes open indefinitely).
        const settle = atMost(Promise.all(ended), 250);
        void settle.then(() => {
          this.exitInfo ??= info;
          resolve(this.exitInfo);
          this.notify();
        });
      };
      child.once('exit', (code, signal) => finish({ code, signal }));
      child.once('error', (error) => finish({ code: null, signal: null, error }));
    });
  }

  /** Exit status once the process has exited (and its final output was read), else undefined. */
  get exit(): ExitInfo | undefined {
    return this.exitInfo;
  }

  /** Resolves when the process has exited; never rejects. */
  stopped(): Promise<ExitInfo> {
    return this.exited;
  }

  /** The absolute index the next output line will get; pass it as `from` to skip older lines. */
  mark(): number {
    return this.dropped + this.lines.length;
  }

  /** Kept lines of one stream (or both, interleaved in arrival order), joined with newlines. */
  output(stream: StreamName | 'any' = 'any'): string {
    return this.lines
      .filter((line) => stream === 'any' || line.stream === stream)
      .map((line) => line.text)
      .join('\n');
  }

  /** The last `n` lines of both streams, each prefixed with its stream, for error messages. */
  tail(n = 40): string {
    return this.lines
      .slice(-n)
      .map((line) => `[${line.stream}] ${line.text}`)
      .join('\n');
  }

  /**
   * Resolves with the first line (from `from` on) matching `re`. Rejects when the process exits
   * without such a line, or after `timeoutMs`; both messages include the output tail.
   */
  async waitForLine(re: RegExp, opts: LineWaitOptions = {}): Promise<RegExpMatchArray> {
    const result = await this.waitForLineOrExit(re, opts);
    if (result.match) return result.match;
    throw new Error(
      `${this.name} exited (${describeExit(result.exit)}) before printing ${re}\n${this.tail()}`,
    );
  }

  /**
   * Resolves with the first matching line, or with the exit status if the process exits first.
   * Rejects only after `timeoutMs` (default 10 s).
   */
  waitForLineOrExit(
    re: RegExp,
    opts: LineWaitOptions = {},
  ): Promise<
    { match: RegExpMatchArray; exit?: undefined } | { match?: undefined; exit: ExitInfo }
  > {
    const { stream = 'any', timeoutMs = 10_000 } = opts;
    let next = opts.from ?? 0;
    return new Promise((resolve, reject) => {
      const check = (): void => {
        for (; next < this.mark(); next++) {
          const line = this.lines[next - this.dropped];
          if (!line || (stream !== 'any' && line.stream !== stream)) continue;
          const match = line.text.match(re);
          if (match) {
            done(() => resolve({ match }));
            return;
          }
        }
        if (this.exitInfo) {
          const exit = this.exitInfo;
          done(() => resolve({ exit }));
        }
      };
      const done = (settle: () => void): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
        settle();
      };
      const timer = setTimeout(() => {
        const what = `${this.name} to print ${re} on ${stream}`;
        done(() =>
          reject(
            new WaitTimeoutError(
              `timed out after ${timeoutMs} ms waiting for ${what}\n${this.tail()}`,
            ),
          ),
        );
      }, timeoutMs);
      this.listeners.add(check);
      check();
    });
  }

  /** Sends `signal` to the process itself, or to its whole process group with `group: true`. */
  signal(signal: NodeJS.Signals, opts: { group?: boolean } = {}): void {
    if (this.exitInfo) return;
    try {
      process.kill(opts.group ? -this.pid : this.pid, signal);
    } catch {
      // already gone
    }
  }

  /**
   * `kill -9 <pid>`, as a crash would: only the process itself, its children are left to notice
   * (stop() at cleanup sweeps them). Resolves with the exit status.
   */
  async kill9(): Promise<ExitInfo> {
    this.signal('SIGKILL');
    return this.waitExit(KILL_WAIT_MS, 'SIGKILL');
  }

  /**
   * Stops the process and everything it started: stopSignal to the group, up to stopGraceMs for
   * the leader to exit, then SIGKILL to every member (group, descendants seen before or after,
   * carriers of its token: this catches children that left the group, like sshd's session
   * commands), and waits until they are gone. Idempotent; also sweeps the members of a process
   * that had already exited. Rejects if something survives SIGKILL for KILL_WAIT_MS.
   */
  stop(graceMs = this.opts.stopGraceMs ?? 3000): Promise<ExitInfo> {
    this.stopping ??= (async () => {
      const before = members(this.pid, this.token);
      if (!this.exitInfo) {
        try {
          process.kill(-this.pid, this.opts.stopSignal ?? 'SIGTERM');
        } catch {
          // the group is gone already
        }
        await atMost(this.exited, graceMs);
      }
      signalAll(this.pid, before, 'SIGKILL');
      const info = await this.waitExit(KILL_WAIT_MS, 'SIGKILL');
      // kill(2) returns before the target is gone, and a member may have forked meanwhile.
      const deadline = Date.now() + KILL_WAIT_MS;
      for (let rest = members(this.pid, this.token); anyAlive(rest); ) {
        if (Date.now() > deadline) throw new Error(`${this.name}: processes survived SIGKILL`);
        signalAll(this.pid, rest, 'SIGKILL');
        await new Promise((r) => setTimeout(r, 10));
        rest = [...rest, ...members(this.pid, this.token)];
      }
      this.child.stdin?.destroy();
      this.child.stdout?.destroy();
      this.child.stderr?.destroy();
      this.untrack();
      return info;
    })();
    return this.stopping;
  }

  private async waitExit(timeoutMs: number, after: string): Promise<ExitInfo> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `${this.name} (pid ${this.pid}) still running ${timeoutMs} ms after ${after}`,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private collect(stream: StreamName): Promise<void> {
    const source = this.child[stream];
    if (!source) return Promise.resolve();
    const decoder = new StringDecoder('utf8');
    let partial = '';
    const push = (text: string): void => {
      this.lines.push({ stream, text, at: Date.now() });
      if (this.lines.length > this.maxLines) {
        this.lines.shift();
        this.dropped++;
      }
    };
    source.on('data', (chunk: Buffer) => {
      const parts = (partial + decoder.write(chunk)).split(/\r?\n/);
      partial = parts.pop() ?? '';
      for (const part of parts) push(part);
      this.notify();
    });
    return new Promise((resolve) => {
      source.once('close', () => {
        const rest = partial + decoder.end();
        if (rest) push(rest);
        partial = '';
        this.notify();
        resolve();
      });
    });
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/**
 * Starts `cmd args` detached in its own process group, collecting output lines, and registers
 * proc.stop() with `scope` (its output tail is added to the scope's diagnostics). Throws at once
 * when the command cannot be started.
 */
export function startProc(scope: Scope, cmd: string, args: string[], opts: ProcOptions = {}): Proc {
  const token = opts.token ?? newToken();
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: mergeEnv(opts.env, token),
    detached: true,
    stdio: [opts.stdin ?? 'pipe', 'pipe', 'pipe'],
  });
  child.on('error', () => {}); // reported through stopped()
  child.stdin?.on('error', () => {}); // EPIPE once the program has exited
  if (child.pid === undefined) {
    throw new Error(`cannot start ${cmd}: not found or not executable`);
  }
  const proc = new Proc(child, opts.name ?? basename(cmd), { ...opts, token });
  scope.defer(() => proc.stop().then(() => {}), `stop ${proc.name}`);
  scope.diagnose(`${proc.name} (pid ${proc.pid}) output`, () => proc.tail(200));
  return proc;
}

export function describeExit(exit: ExitInfo): string {
  if (exit.error) return `failed: ${exit.error.message}`;
  return exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
}
