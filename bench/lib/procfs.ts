/**
 * CPU and memory of running processes, read from /proc (Linux only). CPU is in seconds, memory
 * in KiB. Every reader returns undefined for a process that is gone instead of throwing.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { statFields } from '../../test/helpers/procstat.js';

import { descendants } from '../../test/helpers/reaper.js';

/** Clock ticks per second for /proc/<pid>/stat times (`getconf CLK_TCK`, almost always 100). */
export const CLK_TCK: number = (() => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

interface CpuTimes {
  /** utime + stime of the process itself (all its threads). */
  own: number;
  /** cutime + cstime: children it has waited for. */
  children: number;
  state: string;
}

function readCpu(pid: number): CpuTimes | undefined {
  const f = statFields(pid);
  if (!f) return undefined;
  const tick = (i: number) => Number(f[i] ?? 0) / CLK_TCK;
  return { state: f[0] ?? '?', own: tick(11) + tick(12), children: tick(13) + tick(14) };
}

/** CPU seconds (user + system, all threads) the process has used so far. */
export function cpuSeconds(pid: number): number | undefined {
  return readCpu(pid)?.own;
}

/**
 * CPU seconds used by a whole process tree: for the root and every live descendant, its own
 * time plus that of the children it has reaped. Processes that exited and were reaped inside the
 * tree are thus still counted (in their parent's cutime/cstime), so the difference of two
 * readings is the tree's CPU in between, as long as the root stays alive. sshd is the use case:
 * the listener forks a monitor per connection, which forks the session process.
 */
export function treeCpuSeconds(root: number): number {
  let total = 0;
  for (const pid of [root, ...descendants(root).map((p) => p.pid)]) {
    const t = readCpu(pid);
    if (t) total += t.own + t.children;
  }
  return total;
}

/** Number of processes in the tree (root included) that are not zombies. */
export function treeSize(root: number): number {
  let n = 0;
  for (const pid of [root, ...descendants(root).map((p) => p.pid)]) {
    const t = readCpu(pid);
    if (t && t.state !== 'Z' && t.state !== 'X') n++;
  }
  return n;
}

function statusField(pid: number, field: string, file = 'status'): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

/** Resident set size in KiB (VmRSS). */
export function rssKiB(pid: number): number | undefined {
  return statusField(pid, 'VmRSS');
}

/** Proportional set size in KiB (shared pages divided among the processes sharing them). */
export function pssKiB(pid: number): number | undefined {
  return statusField(pid, 'Pss', 'smaps_rollup');
}

/** Sum of RSS and of PSS over a process tree, and how many processes it has. */
export function treeMemory(root: number): { rssKiB: number; pssKiB: number; processes: number } {
  let rss = 0;
  let pss = 0;
  let processes = 0;
  for (const pid of [root, ...descendants(root).map((p) => p.pid)]) {
    const r = rssKiB(pid);
    if (r === undefined) continue;
    rss += r;
    pss += pssKiB(pid) ?? r;
    processes++;
  }
  return { rssKiB: rss, pssKiB: pss, processes };
}
