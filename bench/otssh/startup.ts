/**
 * Start-up: the time from spawning otssh until its announce command runs, for the single
 * executable and, for comparison, for the compiled sources on Node, with the cost of the announce
 * hook itself measured alongside. The forms take turns within every round, so a busy moment of
 * the (shared) machine slows them alike.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { runCommand, type Scope, startProc } from '../../test/helpers/index.js';
import { OTSSH_SOURCE, otsshArgv } from '../../test/helpers/otssh.js';
import { atMost } from '../../test/helpers/wait.js';
import { REPO_ROOT } from '../lib/report.js';
import { rotate } from '../lib/stats.js';
import { prepare } from './fixture.js';
import type { Marker } from './marker.js';
import { type SeriesStats, seriesStats } from './results.js';

/** binary: dist/bin/otssh. source: `node dist/src/cli/otssh-main.js` on this Node. sea-node: on
 * the Node the binary is made of (when its cached runtime is on this machine). */
export type StartKind = 'binary' | 'source' | 'sea-node';

/** How long an otssh has to exit after SIGTERM before it counts as not exiting. */
const TERM_GRACE_MS = 3000;

export interface StartSample {
  /** ms from just before spawn() to the hook's byte reaching the bench. */
  ms: number;
  /** ms from spawn() to the host key line on stdout (printed before it listens). */
  keyLineMs: number | null;
  /** ms from SIGTERM to the exit; null when it had not exited after TERM_GRACE_MS. */
  termExitMs: number | null;
}

export interface StartSeries {
  kind: StartKind;
  label: string;
  /** The command as run, with the per-run paths shortened. */
  command: string;
  /** The Node version that runs it. */
  node: string;
  /** The first, unrecorded start (page cache as the run found it). */
  warmupMs: number;
  samples: StartSample[];
  raw: SeriesStats;
  /** raw minus the median cost of the hook alone, sample by sample. */
  corrected: SeriesStats;
  keyLine: SeriesStats | null;
  /** Starts that did not exit within TERM_GRACE_MS of SIGTERM (they were then killed). */
  sigtermFailures: number;
}

export interface StartupResult {
  starts: number;
  series: StartSeries[];
  /** The hook spawned by the bench itself: spawn to byte, ms. */
  hook: { samples: number[]; stats: SeriesStats };
  /** Why a form was left out, e.g. the SEA runtime not being cached on this machine. */
  skipped: string[];
}

interface Form {
  kind: StartKind;
  label: string;
  cmd: string;
  argv: string[];
  command: string;
  node: string;
}

/**
 * The Node runtime the binary is built from, as scripts/build-binary.mjs caches it, if present:
 * running the sources on it separates what SEA and the code cache buy from what the newer Node
 * buys.
 */
export function seaRuntime(): { version: string; path: string } | undefined {
  const script = readFileSync(join(REPO_ROOT, 'scripts', 'build-binary.mjs'), 'utf8');
  const version = /const NODE_VERSION = '([^']+)'/.exec(script)?.[1];
  if (!version) return undefined;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  const path = join(base, 'burrow', `node-v${version}-linux-x64`, 'node');
  return existsSync(path) ? { version: `v${version}`, path } : undefined;
}

function forms(args: string[], skipped: string[]): Form[] {
  const shown = '-port=0 -host=127.0.0.1 -authorized-keys=K -announce=HOOK -timeout=30';
  const [bin, binArgv] = otsshArgv('binary', args);
  const [node, srcArgv] = otsshArgv('source', args);
  const list: Form[] = [
    {
      kind: 'binary',
      label: 'dist/bin/otssh (SEA, code cache)',
      cmd: bin,
      argv: binArgv,
      command: `dist/bin/otssh ${shown}`,
      node: seaRuntime()?.version ?? 'the SEA runtime',
    },
    {
      kind: 'source',
      label: `sources on this Node (${process.version})`,
      cmd: node,
      argv: srcArgv,
      command: `node dist/src/cli/otssh-main.js ${shown}`,
      node: process.version,
    },
  ];
  const sea = seaRuntime();
  if (sea) {
    list.push({
      kind: 'sea-node',
      label: `sources on the binary's Node (${sea.version})`,
      cmd: sea.path,
      argv: [OTSSH_SOURCE, ...args],
      command: `~/.cache/burrow/node-${sea.version}-linux-x64/node dist/src/cli/otssh-main.js ${shown}`,
      node: sea.version,
    });
  } else {
    skipped.push(
      "sources on the binary's Node: its runtime is not in ~/.cache/burrow (run npm run build:binary)",
    );
  }
  return list;
}

/** One start: spawn, key line, announce byte, SIGTERM, exit. Everything stopped on return. */
async function startOnce(scope: Scope, marker: Marker, form: Form): Promise<StartSample> {
  marker.drain();
  const t0 = performance.now();
  const proc = startProc(scope, form.cmd, form.argv, {
    name: `otssh (${form.kind})`,
    env: { SHELL: '/bin/sh' },
  });
  let keyLineAt: number | undefined;
  let buffered = '';
  proc.child.stdout?.on('data', (chunk: Buffer) => {
    if (keyLineAt !== undefined) return;
    buffered += chunk.toString('latin1');
    if (buffered.includes('\n')) keyLineAt = performance.now();
  });
  try {
    const at = await marker.next({ what: `the announce of ${proc.name}`, proc });
    const term = performance.now();
    proc.signal('SIGTERM');
    const exit = await atMost(proc.stopped(), TERM_GRACE_MS);
    const termExitMs = exit ? performance.now() - term : null;
    return {
      ms: at - t0,
      keyLineMs: keyLineAt === undefined ? null : keyLineAt - t0,
      termExitMs,
    };
  } finally {
    await proc.stop();
  }
}

/** The hook alone, spawned by the bench as otssh spawns it (with the key line as argument). */
async function hookOnce(scope: Scope, marker: Marker): Promise<number> {
  marker.drain();
  const t0 = performance.now();
  const ran = runCommand(scope, marker.hook, ['[*]:0 ssh-ed25519 AAAA'], { timeoutMs: 10_000 });
  const at = await marker.next({ what: 'the byte of the hook run alone' });
  const r = await ran;
  if (r.code !== 0) throw new Error(`the hook exited ${r.code}: ${r.stderr}`);
  return at - t0;
}

export interface StartupOptions {
  starts: number;
  log: (msg: string) => void;
}

export async function measureStartup(scope: Scope, opts: StartupOptions): Promise<StartupResult> {
  const { authorizedKeys, marker } = await prepare(scope);
  const args = [
    '-port=0',
    '-host=127.0.0.1',
    `-authorized-keys=${authorizedKeys}`,
    `-announce=${marker.hook}`,
    '-timeout=30',
  ];
  const skipped: string[] = [];
  const list = forms(args, skipped);
  const warmup = new Map<StartKind, number>();
  const samples = new Map<StartKind, StartSample[]>(list.map((f) => [f.kind, []]));
  const hook: number[] = [];

  for (const form of list) {
    warmup.set(form.kind, (await startOnce(scope, marker, form)).ms);
  }
  await hookOnce(scope, marker);
  opts.log(
    `start-up: warm-up ${list.map((f) => `${f.kind} ${warmup.get(f.kind)!.toFixed(0)} ms`).join(', ')}`,
  );

  type Step = Form | 'hook';
  const steps: Step[] = [...list, 'hook'];
  for (let round = 0; round < opts.starts; round++) {
    for (const step of rotate(steps, round)) {
      if (step === 'hook') hook.push(await hookOnce(scope, marker));
      else samples.get(step.kind)!.push(await startOnce(scope, marker, step));
    }
    if ((round + 1) % 10 === 0 || round + 1 === opts.starts) {
      const last = list.map((f) => `${f.kind} ${samples.get(f.kind)!.at(-1)!.ms.toFixed(0)} ms`);
      opts.log(`start-up: ${round + 1}/${opts.starts} rounds (last: ${last.join(', ')})`);
    }
  }

  const hookStats = seriesStats(hook);
  const series: StartSeries[] = list.map((form) => {
    const s = samples.get(form.kind)!;
    const keyLines = s.map((x) => x.keyLineMs).filter((x): x is number => x !== null);
    return {
      kind: form.kind,
      label: form.label,
      command: form.command,
      node: form.node,
      warmupMs: warmup.get(form.kind)!,
      samples: s,
      raw: seriesStats(s.map((x) => x.ms)),
      corrected: seriesStats(s.map((x) => x.ms - hookStats.p50Ms)),
      keyLine: keyLines.length > 0 ? seriesStats(keyLines) : null,
      sigtermFailures: s.filter((x) => x.termExitMs === null).length,
    };
  });
  return { starts: opts.starts, series, hook: { samples: hook, stats: hookStats }, skipped };
}
