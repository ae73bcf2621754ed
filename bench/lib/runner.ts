/**
 * The one benchmark runner. A benchmark is `runBench(defineBench({ name, title, flags, phases }))`
 * in `bench/<name>.bench.ts`; the runner
 * - parses its declared flags plus the common ones (--phases, --no-write, --render, --help), and
 *   generates --help from the declaration;
 * - runs the chosen phases in order, each in its own Scope (everything a phase starts is stopped
 *   before the next one begins; the Scope's diagnostics are printed when a phase fails);
 * - merges the records with the stored bench/results/<name>.json (phases not run keep theirs);
 * - prints each phase run as terminal tables, then (unless --no-write) writes the results file
 *   and the benchmark's BENCHMARKS.md section: the title, `bench/<name>.md` verbatim (the method
 *   prose), then per phase its tables, when and how it was measured, and its targets.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Scope } from '../../test/helpers/index.js';
import { parseCount, parseInterval, parseSize, parseSizes } from './flags.js';
import { describeMachine, type MachineInfo, machineInfo } from './machine.js';
import {
  BenchUsageError,
  formatDuration,
  placeSectionAfter,
  progressLogger,
  REPO_ROOT,
  readResults,
  runBenchMain,
  updateSection,
  writeResults,
} from './report.js';
import { markdownTable, type Table, terminalTable } from './table.js';

/** A flag a benchmark declares; the runner parses it and lists it in --help. */
export type FlagSpec =
  | { type: 'count'; default: number; min?: number; help: string }
  | { type: 'size'; default: string; help: string }
  | { type: 'sizes'; default: string; metavar?: string; help: string }
  | { type: 'interval'; default: string; help: string }
  | { type: 'string'; default?: string; metavar?: string; help: string }
  | { type: 'boolean'; help: string };

export type FlagSpecs = Record<string, FlagSpec>;

/** Parsed values: counts, sizes (bytes) and intervals (ms) are numbers; a size list, an array. */
export type FlagValues<F extends FlagSpecs> = {
  [K in keyof F]: F[K] extends { type: 'boolean' }
    ? boolean
    : F[K] extends { type: 'sizes' }
      ? number[]
      : F[K] extends { type: 'string' }
        ? F[K] extends { default: string }
          ? string
          : string | undefined
        : number;
};

export type Status = 'PASS' | 'MISS';

/** A target and what the run measured against it. */
export interface BenchTarget {
  readonly id: string;
  readonly target: string;
  readonly measured: string;
  readonly status: Status;
  readonly note?: string;
}

export const status = (ok: boolean): Status => (ok ? 'PASS' : 'MISS');

/** One phase as stored in bench/results/<name>.json. */
export interface PhaseRecord<R = unknown> {
  readonly date: string;
  readonly command: string;
  readonly machine: MachineInfo;
  readonly durationS: number;
  readonly result: R;
  readonly targets: readonly BenchTarget[];
}

export interface BenchResults {
  readonly benchmark: string;
  readonly updated: string;
  readonly phases: Record<string, PhaseRecord>;
}

export interface MeasureOpts<F extends FlagSpecs> {
  readonly flags: FlagValues<F>;
  readonly log: (msg: string) => void;
  /** The command line as a user would type it, and the machine: what the record will say. */
  readonly command: string;
  readonly machine: MachineInfo;
  /** This phase's stored record, for phases that keep a history across runs. */
  readonly previous: PhaseRecord | undefined;
}

export interface Phase<F extends FlagSpecs, R = never> {
  /** What `--phases` calls it. */
  readonly name: string;
  /** The phase's heading in BENCHMARKS.md. */
  readonly title: string;
  measure(
    scope: Scope,
    opts: MeasureOpts<F>,
  ): Promise<{ result: R; targets: readonly BenchTarget[] }>;
  /** The tables of a stored result, for BENCHMARKS.md and the terminal alike. */
  tables(result: R, record: PhaseRecord<R>): Table[];
}

export interface Bench<F extends FlagSpecs> {
  readonly name: string;
  /** The section heading in BENCHMARKS.md. */
  readonly title: string;
  /** The section this one is placed after the first time it is written. */
  readonly after?: string;
  readonly flags: F;
  /** Checks across flags, before anything runs; throw BenchUsageError naming the flag. */
  check?(flags: FlagValues<F>, run: { noWrite: boolean; phases: readonly string[] }): void;
  /** Flags this benchmark no longer has, and the command that does the job now. */
  readonly moved?: Readonly<Record<string, string>>;
  /** `--help` text after the flag list (e.g. how long the defaults take). */
  readonly epilogue?: string;
  // biome-ignore lint/suspicious/noExplicitAny: each phase has its own result type
  readonly phases: readonly Phase<F, any>[];
}

export function defineBench<F extends FlagSpecs>(bench: Bench<F>): Bench<F> {
  return bench;
}

/** A phase with its result type checked against its own measure() and tables(). */
export function definePhase<F extends FlagSpecs, R>(phase: Phase<F, R>): Phase<F, R> {
  return phase;
}

const COMMON: FlagSpecs = {
  'no-write': {
    type: 'boolean',
    help: 'print the tables only; leave results and BENCHMARKS.md alone',
  },
  render: {
    type: 'boolean',
    help: 'measure nothing: rewrite the BENCHMARKS.md section from the stored results',
  },
  help: { type: 'boolean', help: 'this text' },
};

function flagLine(name: string, spec: FlagSpec): string {
  const arg =
    spec.type === 'boolean'
      ? ''
      : ` ${spec.type === 'count' ? 'N' : ('metavar' in spec && spec.metavar) || spec.type.toUpperCase()}`;
  const def = 'default' in spec && spec.default !== undefined ? ` (default ${spec.default})` : '';
  return `  ${`--${name}${arg}`.padEnd(22)} ${spec.help}${def}`;
}

export function usage<F extends FlagSpecs>(bench: Bench<F>): string {
  const names = bench.phases.map((p) => p.name);
  const lines = [`usage: npm run bench -- ${bench.name} [flags]`, ''];
  if (names.length > 1) {
    lines.push(
      flagLine('phases', {
        type: 'string',
        metavar: 'LIST',
        help: `phases to run, comma-separated: ${names.join(',')} (default: all)`,
      }),
    );
  }
  for (const [n, s] of Object.entries({ ...bench.flags, ...COMMON })) lines.push(flagLine(n, s));
  if (bench.epilogue) lines.push('', bench.epilogue);
  return lines.join('\n');
}

interface Parsed<F extends FlagSpecs> {
  flags: FlagValues<F>;
  phases: string[];
  noWrite: boolean;
  render: boolean;
  help: boolean;
}

export function parseFlags<F extends FlagSpecs>(bench: Bench<F>, argv: string[]): Parsed<F> {
  const names = bench.phases.map((p) => p.name);
  for (const [flag, now] of Object.entries(bench.moved ?? {})) {
    if (argv.some((a) => a === `--${flag}` || a.startsWith(`--${flag}=`))) {
      throw new BenchUsageError(`--${flag} is no longer a flag of ${bench.name}: run ${now}`);
    }
  }
  const specs: FlagSpecs = { ...bench.flags, ...COMMON };
  const options: Record<string, { type: 'string' | 'boolean' }> = {
    phases: { type: 'string' },
  };
  for (const [n, s] of Object.entries(specs)) {
    options[n] = { type: s.type === 'boolean' ? 'boolean' : 'string' };
  }
  const { values } = parseArgs({ args: argv, strict: true, allowPositionals: false, options });
  const flags: Record<string, unknown> = {};
  for (const [n, s] of Object.entries(bench.flags)) {
    const v = values[n];
    if (s.type === 'boolean') flags[n] = v === true;
    else if (s.type === 'string') flags[n] = v ?? s.default;
    else if (s.type === 'sizes') flags[n] = parseSizes(String(v ?? s.default));
    else {
      const text = String(v ?? s.default);
      flags[n] =
        s.type === 'count'
          ? parseCount(n, text, s.min ?? 1)
          : s.type === 'size'
            ? parseSize(text)
            : parseInterval(n, text);
    }
  }
  const phases =
    typeof values.phases === 'string' ? values.phases.split(',').map((s) => s.trim()) : names;
  for (const ph of phases) {
    if (!names.includes(ph)) {
      throw new BenchUsageError(`--phases: unknown phase "${ph}"; known: ${names.join(', ')}`);
    }
  }
  return {
    flags: flags as FlagValues<F>,
    phases,
    noWrite: values['no-write'] === true,
    render: values.render === true,
    help: values.help === true,
  };
}

/** `Measured … with `command` in …; load average …` and the machine line of a record. */
function measuredLines(r: PhaseRecord): string[] {
  return [
    `Measured ${r.date.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')} with \`${r.command}\` in ` +
      `${formatDuration(r.durationS * 1000)}; load average at the start ${r.machine.loadAvg1}.`,
    `Machine: ${describeMachine(r.machine)}.`,
  ];
}

function targetsTable(r: PhaseRecord): Table {
  return {
    title: 'Targets',
    headers: ['target', 'measured', 'result'],
    rows: r.targets.map((t) => [
      t.target,
      t.measured,
      `**${t.status}**${t.note ? ` (${t.note})` : ''}`,
    ]),
  };
}

/** The method prose of a benchmark, `bench/<name>.md`, included verbatim. */
export function methodProse(name: string): string {
  return readFileSync(join(REPO_ROOT, 'bench', `${name}.md`), 'utf8').trim();
}

/** The benchmark's BENCHMARKS.md section from its (stored) results. Pure but for the prose. */
export function renderSection<F extends FlagSpecs>(bench: Bench<F>, r: BenchResults): string {
  const out = [`## ${bench.title}`, '', methodProse(bench.name)];
  for (const phase of bench.phases) {
    const rec = r.phases[phase.name];
    if (!rec) continue;
    out.push('', `### ${phase.title}`, '');
    for (const t of phase.tables(rec.result as never, rec as never)) out.push(markdownTable(t), '');
    out.push(...measuredLines(rec));
    if (rec.targets.length) out.push('', markdownTable(targetsTable(rec)));
  }
  return out.join('\n');
}

function terminalSummary<F extends FlagSpecs>(bench: Bench<F>, ran: BenchResults): string {
  const out: string[] = [];
  for (const phase of bench.phases) {
    const rec = ran.phases[phase.name];
    if (!rec) continue;
    out.push('', `=== ${bench.name}: ${phase.name} ===`, '');
    for (const t of phase.tables(rec.result as never, rec as never)) out.push(terminalTable(t), '');
    if (rec.targets.length) out.push(terminalTable(targetsTable(rec)));
  }
  return out.join('\n');
}

function publish<F extends FlagSpecs>(bench: Bench<F>, results: BenchResults): string {
  const path = writeResults(bench.name, results);
  if (bench.after) placeSectionAfter(bench.name, bench.after);
  updateSection(bench.name, renderSection(bench, results));
  return path;
}

async function runPhases<F extends FlagSpecs>(
  bench: Bench<F>,
  parsed: Parsed<F>,
  command: string,
  previous: BenchResults | undefined,
): Promise<Record<string, PhaseRecord>> {
  const log = progressLogger(bench.name);
  const machine = machineInfo();
  const ran: Record<string, PhaseRecord> = {};
  for (const phase of bench.phases) {
    if (!parsed.phases.includes(phase.name)) continue;
    const scope = new Scope();
    const t0 = Date.now();
    try {
      log(`phase ${phase.name}`);
      const out = await phase.measure(scope, {
        flags: parsed.flags,
        log,
        command,
        machine,
        previous: previous?.phases[phase.name],
      });
      ran[phase.name] = {
        date: new Date(t0).toISOString(),
        command,
        machine,
        durationS: Math.round((Date.now() - t0) / 100) / 10,
        result: out.result,
        targets: out.targets,
      };
    } catch (err) {
      const dump = scope.dump();
      if (dump) process.stderr.write(`\n=== diagnostics for ${phase.name} ===\n${dump}`);
      throw err;
    } finally {
      await scope.close();
    }
  }
  return ran;
}

async function main<F extends FlagSpecs>(bench: Bench<F>, argv: string[]): Promise<void> {
  const parsed = parseFlags(bench, argv);
  if (parsed.help) {
    process.stdout.write(`${usage(bench)}\n`);
    return;
  }
  const previous = readResults<BenchResults>(bench.name);
  if (parsed.render) {
    if (!previous)
      throw new BenchUsageError(`--render: no stored bench/results/${bench.name}.json`);
    publish(bench, previous);
    process.stdout.write(`Rewrote the ${bench.name} section of BENCHMARKS.md from its results.\n`);
    return;
  }
  bench.check?.(parsed.flags, parsed);
  const started = Date.now();
  const command = `npm run bench -- ${bench.name}${argv.length ? ` ${argv.join(' ')}` : ''}`;
  const ran = await runPhases(bench, parsed, command, previous);
  const updated = new Date().toISOString();
  process.stdout.write(
    `${terminalSummary(bench, { benchmark: bench.name, updated, phases: ran })}\n`,
  );
  const took = formatDuration(Date.now() - started);
  if (parsed.noWrite) {
    process.stdout.write(`\n--no-write (${took}): results and BENCHMARKS.md were not written.\n`);
    return;
  }
  const path = publish(bench, {
    benchmark: bench.name,
    updated,
    phases: { ...(previous?.phases ?? {}), ...ran },
  });
  process.stdout.write(
    `\nWrote ${path} and the ${bench.name} section of BENCHMARKS.md (${took}).\n`,
  );
}

/** Runs a benchmark from process.argv: exit 0, or 1 with a one-line reason for usage errors. */
export function runBench<F extends FlagSpecs>(bench: Bench<F>): void {
  runBenchMain(bench.name, () => main(bench, process.argv.slice(2)));
}
