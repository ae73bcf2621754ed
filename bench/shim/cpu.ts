/**
 * CPU of the shim's own processes, recorded by each of them as it exits, and of the whole
 * machine, from /proc/stat. The node processes of the shim (the local `burrow shim`, and on the
 * device `burrow shim --serve` per connection, the first of which becomes the holder and calls
 * itself `burrow shim --hold`) run with
 * `NODE_OPTIONS=--require=<preload>`; the preload writes `process.cpuUsage()` (user + system,
 * all threads) to `<dir>/<role>-<pid>.json` from an 'exit' listener, which runs for the
 * `process.exit()` each of them ends with. A process killed by a signal leaves no record.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { waitFor } from '../../test/helpers/index.js';
import { CLK_TCK } from '../lib/procfs.js';

export type Role = 'local' | 'serve' | 'holder';

/** A preload's expression for its process's role (the holder renames itself `burrow shim --hold`). */
const ROLE =
  "process.title.includes('--hold') ? 'holder' : process.argv.includes('--serve') ? 'serve' : 'local'";

/** CPU seconds (user + system) per role; serve sums every connection's process. */
export interface ShimCpu {
  local: number | null;
  serve: number | null;
  holder: number | null;
  /** How many `--serve` processes (one per ssh connection) left a record. */
  serveProcesses: number;
}

/** Writes the preload into `dir`, recording into `recordDir`; returns the preload's path. */
export function writePreload(dir: string, recordDir: string): string {
  const path = join(dir, 'cpu-at-exit.cjs');
  writeFileSync(
    path,
    `// Written by bench/shim/cpu.ts: records this process's CPU when it exits.
const { writeFileSync } = require('node:fs');
process.on('exit', () => {
  const role = ${ROLE};
  const u = process.cpuUsage();
  try {
    writeFileSync(${JSON.stringify(recordDir)} + '/' + role + '-' + process.pid + '.json',
      JSON.stringify({ role, pid: process.pid, userS: u.user / 1e6, systemS: u.system / 1e6 }));
  } catch {}
});
`,
  );
  return path;
}

/**
 * Writes a preload that runs the V8 CPU profiler (1 ms sampling) for the whole life of the
 * process and writes `<profDir>/<role>-<pid>.cpuprofile` at exit. (`--cpu-prof` would do, but
 * Node 20 refuses it in NODE_OPTIONS, and the holder is started without the parent's flags.)
 * The in-process inspector session answers synchronously, so the exit listener can stop it.
 */
export function writeProfilerPreload(dir: string, profDir: string): string {
  const path = join(dir, 'profile-until-exit.cjs');
  writeFileSync(
    path,
    `// Written by bench/shim/cpu.ts: profiles this process until it exits.
const { writeFileSync, mkdirSync } = require('node:fs');
const { Session } = require('node:inspector');
const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 1000 });
session.post('Profiler.start');
process.on('exit', () => {
  const role = ${ROLE};
  session.post('Profiler.stop', (err, result) => {
    if (err) return;
    try {
      mkdirSync(${JSON.stringify(profDir)}, { recursive: true });
      writeFileSync(${JSON.stringify(profDir)} + '/' + role + '-' + process.pid + '.cpuprofile', JSON.stringify(result.profile));
    } catch {}
  });
});
`,
  );
  return path;
}

interface Sample {
  role: Role;
  pid: number;
  userS: number;
  systemS: number;
}

function readRecords(recordDir: string): { file: string; sample: Sample }[] {
  const out: { file: string; sample: Sample }[] = [];
  for (const file of readdirSync(recordDir)) {
    if (!file.endsWith('.json')) continue;
    try {
      out.push({ file, sample: JSON.parse(readFileSync(join(recordDir, file), 'utf8')) as Sample });
    } catch {
      // being written: read on the next poll
    }
  }
  return out;
}

/**
 * Collects and removes the records of one finished transfer. The local side and the holder exit
 * a moment after rsync does (the holder once the local side confirmed the exit status), so this
 * waits up to `timeoutMs` for them; a role that never reported is null.
 */
export async function takeShimCpu(recordDir: string, timeoutMs = 5000): Promise<ShimCpu> {
  const has = (role: Role) => readRecords(recordDir).some((r) => r.sample.role === role);
  await waitFor(() => has('local') && has('holder'), {
    what: 'the shim processes to record their CPU',
    timeoutMs,
  }).catch(() => {});
  const records = readRecords(recordDir);
  for (const r of records) rmSync(join(recordDir, r.file), { force: true });
  const sum = (role: Role) => {
    const mine = records.filter((r) => r.sample.role === role);
    return mine.length === 0
      ? null
      : mine.reduce((s, r) => s + r.sample.userS + r.sample.systemS, 0);
  };
  return {
    local: sum('local'),
    serve: sum('serve'),
    holder: sum('holder'),
    serveProcesses: records.filter((r) => r.sample.role === 'serve').length,
  };
}

/** Removes records left by earlier transfers (a warm-up, a failed run). */
export function clearShimCpu(recordDir: string): void {
  for (const file of readdirSync(recordDir)) rmSync(join(recordDir, file), { force: true });
}

/**
 * CPU seconds the whole machine has spent busy (every core: user, nice, system, irq, softirq,
 * steal) since boot. The difference of two readings is everything that ran in between, the
 * machine's other users included.
 */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
  return (user + nice + system + irq + softirq + steal) / CLK_TCK;
}
