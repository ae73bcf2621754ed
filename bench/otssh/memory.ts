/**
 * Peak memory: the resident set of dist/bin/otssh over its whole life, a start plus one real
 * OpenSSH session (an exec session, or a pty session with some typing), read as VmHWM (the
 * kernel's high-water mark of RSS) from /proc/<pid>/status every 10 ms while it runs. When GNU
 * time is installed the binary runs under it, and its ru_maxrss at exit cross-checks the last
 * reading (VmHWM cannot be read once the process has exited).
 */
import { existsSync, readFileSync } from 'node:fs';
import {
  descendants,
  freePort,
  type Proc,
  type Scope,
  startProc,
  waitFor,
} from '../../test/helpers/index.js';
import { otsshArgv, otsshClientArgs, ssh } from '../../test/helpers/otssh.js';
import { within } from '../../test/helpers/wait.js';
import { type Fixture, prepare } from './fixture.js';
import { ExitedFirstError } from './marker.js';

export const SESSIONS = ['exec', 'pty'] as const;
export type SessionKind = (typeof SESSIONS)[number];

const POLL_MS = 10;
const GNU_TIME = '/usr/bin/time';
const TIME_TAG = 'otssh-bench-maxrss-kib=';
/** Tries per round when the port found free is taken before otssh binds it. */
const BIND_TRIES = 3;

/** What the pty session types: a computed answer to look for, some output, then exit 0. */
const PTY_INPUT = 'echo answer-$((6*7))\nseq 1 2000\nexit 0\n';

export interface MemorySample {
  session: SessionKind;
  /** The highest VmHWM read, KiB. */
  hwmKiB: number;
  /** ru_maxrss of the exited otssh as GNU time reports it, KiB; null without GNU time. */
  maxRssKiB: number | null;
  /** VmHWM readings taken. */
  polls: number;
  /** ms from spawn to the end of the ssh client. */
  lifeMs: number;
}

export interface MemoryResult {
  rounds: number;
  samples: MemorySample[];
  /** Whether ru_maxrss was read (GNU time at /usr/bin/time). */
  crossChecked: boolean;
}

/** VmHWM of `pid` in KiB, or undefined once it is gone (or not yet exec'd into a process with one). */
function vmHwmKiB(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Polls VmHWM of `pid` every POLL_MS until stopped; keeps the highest. */
function watchPeak(pid: number): { stop: () => { hwmKiB: number; polls: number } } {
  let hwm = 0;
  let polls = 0;
  const read = () => {
    const v = vmHwmKiB(pid);
    if (v === undefined) return;
    polls++;
    if (v > hwm) hwm = v;
  };
  read();
  const timer = setInterval(read, POLL_MS);
  return {
    stop: () => {
      clearInterval(timer);
      return { hwmKiB: hwm, polls };
    },
  };
}

/** The pid of otssh itself: the process, or GNU time's child once time has exec'd it. */
async function otsshPid(proc: Proc, wrapped: boolean, binary: string): Promise<number> {
  if (!wrapped) return proc.pid;
  return waitFor(
    () => {
      const child = descendants(proc.pid)[0];
      if (!child) return undefined;
      // Until the exec, the child is a copy of time.
      try {
        return readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').startsWith(binary)
          ? child.pid
          : undefined;
      } catch {
        return undefined;
      }
    },
    { what: 'otssh to start under GNU time', timeoutMs: 10_000, intervalMs: 1 },
  );
}

async function runSession(
  scope: Scope,
  fx: Fixture,
  session: SessionKind,
  port: number,
  hostKey: string,
): Promise<void> {
  const args = otsshClientArgs(fx.dir, port, hostKey, fx.key);
  if (session === 'exec') {
    const r = await ssh(scope, [...args, 'echo hi']);
    if (r.code !== 0 || r.stdout !== 'hi\n') {
      throw new Error(
        `ssh echo hi: exit ${r.code}, stdout ${JSON.stringify(r.stdout)}: ${r.stderr}`,
      );
    }
    return;
  }
  const r = await ssh(scope, ['-tt', ...args], { input: PTY_INPUT });
  if (r.code !== 0 || !r.stdout.includes('answer-42') || !r.stdout.includes('2000')) {
    throw new Error(
      `ssh -tt session: exit ${r.code}, stdout ${JSON.stringify(r.stdout.slice(-400))}: ${r.stderr}`,
    );
  }
}

/** One life of otssh: start, announce, one session, exit. Everything stopped on return. */
async function oneRound(scope: Scope, fx: Fixture, session: SessionKind): Promise<MemorySample> {
  const wrapped = existsSync(GNU_TIME);
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const [bin, argv] = otsshArgv('binary', [
      `-port=${port}`,
      '-host=127.0.0.1',
      `-authorized-keys=${fx.authorizedKeys}`,
      `-announce=${fx.marker.hook}`,
      '-timeout=30',
    ]);
    const [cmd, cmdArgv] = wrapped
      ? [GNU_TIME, ['-f', `${TIME_TAG}%M`, bin, ...argv]]
      : [bin, argv];
    fx.marker.drain();
    const t0 = performance.now();
    const proc = startProc(scope, cmd, cmdArgv, {
      name: 'otssh',
      env: { SHELL: '/bin/sh' },
    });
    try {
      const pid = await otsshPid(proc, wrapped, bin);
      const watch = watchPeak(pid);
      let peak: { hwmKiB: number; polls: number } | undefined;
      try {
        const m = await proc.waitForLine(/^ssh-ed25519 \S+$/, { stream: 'stdout' });
        try {
          await fx.marker.next({ what: 'the announce', proc });
        } catch (err) {
          const bindLost = /Could not bind/.test(proc.output('stderr'));
          if (err instanceof ExitedFirstError && bindLost && attempt < BIND_TRIES) continue;
          throw err;
        }
        await runSession(scope, fx, session, port, m[0]);
        const lifeMs = performance.now() - t0;
        // After its one session otssh exits by itself; the polls go on until then.
        const exit = await within(proc.stopped(), 10_000, 'otssh to exit after its session');
        peak = watch.stop();
        if (exit.code !== 0) {
          throw new Error(
            `otssh exited ${exit.code ?? exit.signal} after the session\n${proc.tail()}`,
          );
        }
        const rss = new RegExp(`${TIME_TAG}(\\d+)`).exec(proc.output('stderr'))?.[1];
        return {
          session,
          hwmKiB: peak.hwmKiB,
          maxRssKiB: rss === undefined ? null : Number(rss),
          polls: peak.polls,
          lifeMs,
        };
      } finally {
        if (!peak) watch.stop();
      }
    } finally {
      await proc.stop();
    }
  }
}

export interface MemoryOptions {
  /** Rounds per session kind. */
  rounds: number;
  log: (msg: string) => void;
}

export async function measureMemory(scope: Scope, opts: MemoryOptions): Promise<MemoryResult> {
  const fx = await prepare(scope);
  const samples: MemorySample[] = [];
  for (let round = 0; round < opts.rounds; round++) {
    // Alternate which session kind goes first.
    const order = round % 2 === 0 ? SESSIONS : [...SESSIONS].reverse();
    for (const session of order) {
      const s = await oneRound(scope, fx, session);
      samples.push(s);
      opts.log(
        `memory: round ${round + 1}/${opts.rounds} ${session}: VmHWM ${(s.hwmKiB / 1024).toFixed(1)} MiB` +
          (s.maxRssKiB === null ? '' : `, ru_maxrss ${(s.maxRssKiB / 1024).toFixed(1)} MiB`) +
          ` (${s.polls} readings)`,
      );
    }
  }
  return { rounds: opts.rounds, samples, crossChecked: existsSync(GNU_TIME) };
}
