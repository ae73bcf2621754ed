/**
 * Finding and killing everything a test started, and the process-exit safety net. Linux only
 * (reads /proc); elsewhere it degrades to killing the process group.
 *
 * Contract: every process a helper starts is spawned detached (its own process group, pgid = pid)
 * with a unique BURROW_TEST_TOKEN in its environment, and registered with registerLive() until it
 * has been stopped. Its "members" are the processes in that group, its descendants, and every
 * process whose environment carries the token: that last set catches orphans that left both the
 * group and the tree (sshd session commands call setsid and are reparented to init once their
 * connection closes; sshd passes the token on to sessions through `SetEnv`). If the test process
 * exits for any reason (normal end, uncaught error, SIGINT/SIGTERM/SIGHUP), all members of every
 * live registration are sent SIGKILL.
 */

import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { statFields } from './procstat.js';

/** Environment variable that marks every process started for one Proc or command. */
export const TOKEN_ENV = 'BURROW_TEST_TOKEN';

/** A process identity that survives pid reuse: pid plus its start time in clock ticks. */
export interface ProcId {
  pid: number;
  start: string;
}

interface Stat {
  ppid: number;
  state: string;
  start: string;
}

function readStat(pid: number): Stat | undefined {
  const fields = statFields(pid);
  if (!fields) return undefined;
  return { state: fields[0] ?? '?', ppid: Number(fields[1]), start: fields[19] ?? '' };
}

function listPids(): number[] {
  try {
    return readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name))
      .map(Number)
      .filter((pid) => pid !== process.pid);
  } catch {
    return [];
  }
}

/** A fresh token for TOKEN_ENV, unique across test processes. */
export function newToken(): string {
  return `${process.pid}-${randomBytes(6).toString('hex')}`;
}

/** Every live descendant of `pid` (children, grandchildren, ...), found by walking /proc. */
export function descendants(pid: number): ProcId[] {
  const children = new Map<number, ProcId[]>();
  for (const child of listPids()) {
    const stat = readStat(child);
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push({ pid: child, start: stat.start });
    children.set(stat.ppid, list);
  }
  const found: ProcId[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child.pid);
    }
  }
  return found;
}

/** Every process whose initial environment holds `TOKEN_ENV=token`. */
export function withToken(token: string): ProcId[] {
  return withEnvEntry(`${TOKEN_ENV}=${token}`);
}

/** Every process whose initial environment holds `entry` ("NAME=value") exactly. */
export function withEnvEntry(entry: string): ProcId[] {
  const needle = Buffer.from(`${entry}\0`);
  const found: ProcId[] = [];
  for (const pid of listPids()) {
    let environ: Buffer;
    try {
      environ = readFileSync(`/proc/${pid}/environ`);
    } catch {
      continue;
    }
    const at = environ.indexOf(needle);
    if (at === 0 || (at > 0 && environ[at - 1] === 0)) {
      const stat = readStat(pid);
      if (stat) found.push({ pid, start: stat.start });
    }
  }
  return found;
}

/** Descendants of `pid` plus the processes carrying `token`, without duplicates. */
export function members(pid: number, token: string | undefined): ProcId[] {
  const all = new Map<number, ProcId>();
  for (const p of descendants(pid)) all.set(p.pid, p);
  if (token) for (const p of withToken(token)) all.set(p.pid, p);
  return [...all.values()];
}

/**
 * Whether `pid` names a running process: it exists and is not a zombie. (process.kill(pid, 0)
 * alone succeeds on zombies, which matter here because PID 1 in a container may never reap.)
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = readStat(pid);
  return stat === undefined ? true : stat.state !== 'Z' && stat.state !== 'X';
}

/** Whether any process in `procs` is still running as the same process (not a zombie). */
export function anyAlive(procs: ProcId[]): boolean {
  return procs.some(({ pid, start }) => readStat(pid)?.start === start && isAlive(pid));
}

function signalSafely(target: number, signal: NodeJS.Signals): void {
  try {
    process.kill(target, signal);
  } catch {
    // ESRCH: already gone. EPERM cannot happen for our own children.
  }
}

/**
 * Sends `signal` to the process group `pgid` and to each process in `procs` that is still the
 * same process (same start time), so a reused pid is never hit.
 */
export function signalAll(pgid: number, procs: ProcId[], signal: NodeJS.Signals): void {
  signalSafely(-pgid, signal);
  signalSafely(pgid, signal);
  for (const { pid, start } of procs) {
    if (readStat(pid)?.start === start) signalSafely(pid, signal);
  }
}

/** SIGKILLs the group led by `pid`, its descendants and the carriers of `token`, synchronously. */
export function killAllSync(pid: number, token: string | undefined): void {
  signalAll(pid, members(pid, token), 'SIGKILL');
}

const live = new Map<number, string | undefined>();
let hooked = false;

function killAllLive(): void {
  for (const [pid, token] of live) killAllSync(pid, token);
  live.clear();
}

function installExitHook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAllLive);
  const signals: [NodeJS.Signals, number][] = [
    ['SIGINT', 2],
    ['SIGTERM', 15],
    ['SIGHUP', 1],
  ];
  for (const [signal, number] of signals) {
    process.once(signal, () => {
      killAllLive();
      process.exit(128 + number);
    });
  }
}

/**
 * Tracks a process group leader (and its token) for the exit hook; returns the function that
 * stops tracking it (call it once the process and its members have been stopped).
 */
export function registerLive(pid: number, token?: string): () => void {
  installExitHook();
  live.set(pid, token);
  return () => {
    live.delete(pid);
  };
}
