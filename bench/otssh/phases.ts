/**
 * The phases of `npm run bench -- otssh` (start-up, peak memory, sizes) and their tables. The
 * measurements are in startup.ts and memory.ts; the method is bench/otssh.md.
 */
import { statSync } from 'node:fs';
import { relative } from 'node:path';
import { BINARIES, ensureBinaries } from '../../test/helpers/binaries.js';
import { REPO_ROOT } from '../lib/report.js';
import { definePhase, type FlagSpecs } from '../lib/runner.js';
import { max, median } from '../lib/stats.js';
import type { Cell } from '../lib/table.js';
import { measureMemory, SESSIONS } from './memory.js';
import {
  type FileSize,
  memoryTargets,
  mib,
  ms,
  peaks,
  type SeriesStats,
  startupTargets,
  TARGETS,
} from './results.js';
import { measureStartup, seaRuntime } from './startup.js';

export const MIN_RECORDED_STARTS = 20;
export const MIN_RECORDED_ROUNDS = 5;

export const OTSSH_FLAGS = {
  starts: {
    type: 'count',
    default: 30,
    help: `start-ups per form (binary, sources on node); fewer than ${MIN_RECORDED_STARTS} only with --no-write`,
  },
  rounds: {
    type: 'count',
    default: MIN_RECORDED_ROUNDS,
    help: 'peak-memory rounds per session kind, exec and pty; fewer only with --no-write',
  },
} as const satisfies FlagSpecs;
type Flags = typeof OTSSH_FLAGS;

const statsCells = (s: SeriesStats): Cell[] => [
  s.count,
  ms(s.p50Ms),
  ms(s.p90Ms),
  ms(s.maxMs),
  ms(s.minMs),
];

export const startupPhase = definePhase<Flags, Awaited<ReturnType<typeof measureStartup>>>({
  name: 'startup',
  title: 'Start-up: spawn to announce',
  async measure(scope, { flags, log }) {
    log('checking dist/bin/otssh and dist/bin/burrow (rebuilt when older than the sources)');
    await ensureBinaries();
    const result = await measureStartup(scope, { starts: flags.starts, log });
    return { result, targets: startupTargets(result) };
  },
  tables(r) {
    const rows: Cell[][] = [];
    for (const s of r.series) {
      rows.push([s.label, 'raw', ...statsCells(s.raw)]);
      rows.push([s.label, 'hook-corrected', ...statsCells(s.corrected)]);
      if (s.keyLine) rows.push([s.label, 'key line printed', ...statsCells(s.keyLine)]);
    }
    rows.push(['the hook alone (spawned by the bench)', 'raw', ...statsCells(r.hook.stats)]);
    const bin = r.series.find((s) => s.kind === 'binary');
    const notes = r.series
      .filter((s) => bin && s.kind !== 'binary')
      .map(
        (s) =>
          `${s.label}: p50 ${ms(s.raw.p50Ms)} raw, ${ms(s.corrected.p50Ms)} hook-corrected, ` +
          `${(s.corrected.p50Ms / bin!.corrected.p50Ms).toFixed(1)}× the binary's corrected p50.`,
      );
    notes.push(
      'First start of each form (not counted, page cache as the run found it): ' +
        `${r.series.map((s) => `${s.label} ${ms(s.warmupMs)}`).join('; ')}.`,
      ...r.skipped.map((s) => `Not measured: ${s}.`),
    );
    return [
      {
        title: `${r.starts} starts of each form`,
        headers: ['form', 'clock', 'starts', 'p50', 'p90', 'max', 'min'],
        rows,
        notes,
      },
    ];
  },
});

export const memoryPhase = definePhase<Flags, Awaited<ReturnType<typeof measureMemory>>>({
  name: 'memory',
  title: `Peak memory: a start plus one real session (target ≤ ${TARGETS.peakMiB} MiB)`,
  async measure(scope, { flags, log }) {
    await ensureBinaries();
    const result = await measureMemory(scope, { rounds: flags.rounds, log });
    return { result, targets: memoryTargets(result) };
  },
  tables(r) {
    const rows = SESSIONS.map((session) => {
      const mine = r.samples.filter((s) => s.session === session);
      const p = peaks(r, session);
      return [
        session === 'exec' ? '`ssh … echo hi`' : '`ssh -tt …` (typed input)',
        mine.length,
        mib(max(p)),
        mib(median(p)),
        median(mine.map((s) => s.polls)),
      ];
    });
    return [
      {
        title: `${r.rounds} rounds of each kind${r.crossChecked ? ', cross-checked with ru_maxrss' : ''}`,
        headers: ['session', 'rounds', 'max peak', 'median peak', 'VmHWM readings (median)'],
        rows,
      },
    ];
  },
});

export const sizesPhase = definePhase<Flags, FileSize[]>({
  name: 'sizes',
  title: 'Sizes',
  async measure() {
    await ensureBinaries();
    const files: FileSize[] = [BINARIES.otssh, BINARIES.burrow].map((path) => ({
      path: relative(REPO_ROOT, path),
      bytes: statSync(path).size,
    }));
    const runtime = seaRuntime();
    if (runtime) {
      files.push({
        path: `~/.cache/burrow/node-${runtime.version}-linux-x64/node`,
        bytes: statSync(runtime.path).size,
        note: 'the Node runtime both are made of',
      });
    }
    return { result: files, targets: [] };
  },
  tables(sizes) {
    const runtime = sizes.find((f) => f.note);
    const notes = runtime
      ? [
          'Beyond the runtime (the bundled JavaScript, its V8 code cache and the node-pty addon): ' +
            sizes
              .filter((f) => f !== runtime)
              .map((f) => `\`${f.path}\` ${((f.bytes - runtime.bytes) / 2 ** 20).toFixed(2)} MiB`)
              .join(', ') +
            '.',
        ]
      : [];
    return [
      {
        headers: ['file', 'bytes', 'MiB'],
        rows: sizes.map((f) => [
          `\`${f.path}\`${f.note ? ` (${f.note})` : ''}`,
          f.bytes,
          (f.bytes / 2 ** 20).toFixed(1),
        ]),
        notes,
      },
    ];
  },
});
