/**
 * The otssh benchmark's section of BENCHMARKS.md and its terminal summary. Pure: data in, text
 * out.
 */
import { type Cell, mdTable, measuredLines, targetRows, textTable } from '../lib/report.js';
import { max, median } from '../lib/stats.js';
import { SESSIONS } from './memory.js';
import { mib, ms, type OtsshResults, peaks, type SeriesStats, TARGETS } from './results.js';
import type { StartSeries } from './startup.js';

const STARTUP_HEADERS = ['form', 'clock', 'starts', 'p50', 'p90', 'max', 'min'];

function statsCells(s: SeriesStats): Cell[] {
  return [s.count, ms(s.p50Ms), ms(s.p90Ms), ms(s.maxMs), ms(s.minMs)];
}

export function startupRows(r: OtsshResults): Cell[][] {
  const rows: Cell[][] = [];
  for (const s of r.startup.series) {
    rows.push([s.label, 'raw', ...statsCells(s.raw)]);
    rows.push([s.label, 'hook-corrected', ...statsCells(s.corrected)]);
    if (s.keyLine) rows.push([s.label, 'key line printed', ...statsCells(s.keyLine)]);
  }
  rows.push(['the hook alone (spawned by the bench)', 'raw', ...statsCells(r.startup.hook.stats)]);
  return rows;
}

const MEMORY_HEADERS = ['session', 'rounds', 'max peak', 'median peak', 'VmHWM readings (median)'];

/** `code` spans for markdown, bare text for the terminal. */
function code(text: string, md: boolean): string {
  return md ? `\`${text}\`` : text;
}

export function memoryRows(r: OtsshResults, md = true): Cell[][] {
  return SESSIONS.map((session) => {
    const mine = r.memory.samples.filter((s) => s.session === session);
    const p = peaks(r.memory, session);
    return [
      session === 'exec' ? code('ssh … echo hi', md) : `${code('ssh -tt …', md)} (typed input)`,
      mine.length,
      mib(max(p)),
      mib(median(p)),
      median(mine.map((s) => s.polls)),
    ];
  });
}

const SIZE_HEADERS = ['file', 'bytes', 'MiB'];

export function sizeRows(r: OtsshResults, md = true): Cell[][] {
  return r.sizes.map((f) => [
    `${code(f.path, md)}${f.note ? ` (${f.note})` : ''}`,
    f.bytes,
    (f.bytes / 2 ** 20).toFixed(1),
  ]);
}

function speedup(r: OtsshResults): string[] {
  const bin = r.startup.series.find((s) => s.kind === 'binary');
  if (!bin) return [];
  return r.startup.series
    .filter((s) => s.kind !== 'binary')
    .map(
      (s: StartSeries) =>
        `${s.label}: p50 ${ms(s.raw.p50Ms)} raw, ${ms(s.corrected.p50Ms)} hook-corrected, ` +
        `${(s.corrected.p50Ms / bin.corrected.p50Ms).toFixed(1)}× the binary's corrected p50.`,
    );
}

function warmups(r: OtsshResults): string {
  return r.startup.series.map((s) => `${s.label} ${ms(s.warmupMs)}`).join('; ');
}

/** What each binary adds to the runtime it is made of, when the runtime's size is known. */
function payload(r: OtsshResults): string | undefined {
  const runtime = r.sizes.find((f) => f.note);
  if (!runtime) return undefined;
  const parts = r.sizes
    .filter((f) => f !== runtime)
    .map((f) => `\`${f.path}\` ${((f.bytes - runtime.bytes) / 2 ** 20).toFixed(2)} MiB`);
  return (
    `Beyond the runtime (the bundled JavaScript, its V8 code cache and the node-pty addon): ` +
    `${parts.join(', ')}.`
  );
}

export function renderSummary(r: OtsshResults): string {
  const out: string[] = [];
  out.push(textTable(['target', 'measured', 'result'], targetRows(r.targets, false)));
  out.push('');
  out.push(textTable(STARTUP_HEADERS, startupRows(r)));
  out.push('');
  out.push(textTable(MEMORY_HEADERS, memoryRows(r, false)));
  out.push('');
  out.push(textTable(SIZE_HEADERS, sizeRows(r, false)));
  for (const s of r.startup.skipped) out.push(`skipped: ${s}`);
  return out.join('\n');
}

export function renderMarkdown(r: OtsshResults): string {
  const out: string[] = [];
  const minutes = Math.max(1, Math.ceil((r.durationS + 15) / 60));
  out.push('## otssh: start-up and peak memory of the single executable `dist/bin/otssh`');
  out.push('');
  out.push(
    `Reproduce with \`npm run bench -- otssh\` (builds first, and builds the binaries when ` +
      `they are older than the sources; about ${minutes} minute${minutes === 1 ? '' : 's'} on ` +
      'this machine). Flags: `--starts N` (start-ups per form, default 30; at least 20 for a ' +
      'recorded result), `--rounds N` (sessions of each kind, default 5; at least 5 recorded), ' +
      '`--no-write`.',
  );
  out.push('');
  out.push(...measuredLines(r));
  out.push('');
  out.push(`### Start-up: spawn to announce, ${r.startup.starts} starts of each form`);
  out.push('');
  out.push(
    'Clock from just before `spawn()` of `otssh -port=0 -host=127.0.0.1 -authorized-keys=K ' +
      '-announce=HOOK -timeout=30` to the byte its announce hook writes reaching the bench; ' +
      'otssh is then stopped with SIGTERM (and must exit) before the next start. _Raw_ is that ' +
      'clock; _hook-corrected_ subtracts the median cost of the hook alone (the bench spawning ' +
      'the same hook to the same byte, in the same rounds), leaving roughly spawn to the moment ' +
      "otssh starts its hook. _Key line printed_: spawn to the host key line on otssh's stdout, " +
      'which it prints after generating the key and before it listens. The target is judged on ' +
      'the raw p50.',
  );
  out.push('');
  out.push(mdTable(STARTUP_HEADERS, startupRows(r)));
  out.push('');
  for (const line of speedup(r)) out.push(`- ${line}`);
  out.push(
    `- First start of each form (not counted, page cache as the run found it): ${warmups(r)}.`,
  );
  for (const s of r.startup.skipped) out.push(`- Not measured: ${s}.`);
  out.push('');
  out.push(
    `### Peak memory: a start plus one real session, ${r.memory.rounds} rounds of each kind (target ≤ ${TARGETS.peakMiB} MiB)`,
  );
  out.push('');
  out.push(
    'otssh (the binary) on a free port, announce hook as above, then one OpenSSH `ssh` session ' +
      'trusting the printed key line: `echo hi` (exec), or `ssh -tt` typing ' +
      '`echo answer-$((6*7))`, `seq 1 2000`, `exit 0` (pty, `SHELL=/bin/sh`, transcript on ' +
      "stdout); otssh then exits by itself. Peak: the highest of the kernel's high-water mark " +
      'VmHWM, read from `/proc/<pid>/status` every 10 ms from spawn to exit' +
      (r.memory.crossChecked
        ? ", and GNU time's `ru_maxrss` of the exited process (otssh runs under `/usr/bin/time`)."
        : '.'),
  );
  out.push('');
  out.push(mdTable(MEMORY_HEADERS, memoryRows(r)));
  out.push('');
  out.push('### Sizes');
  out.push('');
  out.push(mdTable(SIZE_HEADERS, sizeRows(r)));
  const extra = payload(r);
  if (extra) out.push('', extra);
  out.push('');
  out.push('### How it is measured, and choices made');
  out.push('');
  out.push(METHOD_NOTES);
  return out.join('\n');
}

const METHOD_NOTES = `- The announce hook is a two-line \`/bin/sh\` script, \`printf x >FIFO\` (a builtin): the cheapest
  announce command that can say when it ran. The bench holds the FIFO open read-write and
  non-blocking and takes \`performance.now()\` when the byte arrives (epoll, no thread pool), so
  the clock includes one exec of \`/bin/sh\` and one event-loop wake-up, which the hook-corrected
  numbers remove. otssh accepts connections only once the hook has exited, which this hook does
  right after its write.
- The forms take turns within each round (rotated each round), so a busy moment of this shared
  machine slows each alike. Each form's first start is discarded as a warm-up.
- The sources run as \`node dist/src/cli/otssh-main.js\` with the repository's \`node_modules\`: on
  the Node that runs the bench, and on the Node the binary is built from (its runtime as
  \`scripts/build-binary.mjs\` caches it). Against the latter, the difference is what the single
  executable (one bundled file, V8 code cache in the blob, no module resolution) buys; against
  the former, that plus the newer Node.
- \`-port=0\` for start-up (no port to find first); the memory rounds need to know the port, which
  otssh prints only as given (\`[*]:0\` for 0), so they take a port found free and retry if it is
  taken before otssh binds it. Everything listens on and connects to 127.0.0.1.
- Peak memory counts otssh alone, not the shell it starts for the session. VmHWM is monotonic, so
  10 ms polling misses at most the growth of its last 10 ms, which \`ru_maxrss\` (the same
  high-water mark, read by \`wait4\` at exit) covers.`;
