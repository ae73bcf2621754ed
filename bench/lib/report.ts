/**
 * Files and process plumbing of benchmarks: the machine-readable results file
 * (bench/results/<name>.json), the benchmark's own section of BENCHMARKS.md (between
 * `<!-- name:start -->` and `<!-- name:end -->`; everything else in the file is left as it is),
 * progress lines, and the exit path shared by the runner and the experiments.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is dist/bench/lib/report.js once built). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BENCHMARKS_MD = join(REPO_ROOT, 'BENCHMARKS.md');
const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');

const HEADER = `# Benchmarks

burrow measured against the OpenSSH setup it replaces, on the same machine **in the same run**
(burrow and baseline interleaved), so a busy machine slows both alike and the ratios stay
meaningful. Every section below is written by \`npm run bench -- <name>\` and says how to
reproduce it; the raw numbers are in \`bench/results/<name>.json\`.
`;

function writeAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.tmp-${process.pid}`;
  writeFileSync(temp, text);
  renameSync(temp, path);
}

/** A bad flag or an impossible request: reported as one line, without a stack trace. */
export class BenchUsageError extends Error {
  override name = 'BenchUsageError';
}

/** Replaces (or appends) the section `name` of BENCHMARKS.md with `markdown`. */
export function updateSection(name: string, markdown: string, file = BENCHMARKS_MD): void {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${start}\n${markdown.trim()}\n${end}`;
  const text = existsSync(file) ? readFileSync(file, 'utf8') : HEADER;
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  let next: string;
  if (a >= 0 && b > a) next = text.slice(0, a) + block + text.slice(b + end.length);
  else next = `${text.trimEnd()}\n\n${block}\n`;
  writeAtomic(file, next);
}

/** Reads bench/results/<name>.json, or undefined if absent or unreadable. */
export function readResults<T>(name: string): T | undefined {
  try {
    return JSON.parse(readFileSync(join(RESULTS_DIR, `${name}.json`), 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export function writeResults(name: string, data: unknown): string {
  const path = join(RESULTS_DIR, `${name}.json`);
  writeAtomic(path, `${JSON.stringify(data, null, 2)}\n`);
  return path;
}

/** `1m 05s`, `42.3 s`. */
export function formatDuration(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m}m ${String(Math.round(s - m * 60)).padStart(2, '0')}s`;
}

/** Writes progress to stderr, prefixed with the benchmark name and the time since start. */
export function progressLogger(name: string): (msg: string) => void {
  const t0 = Date.now();
  return (msg) => {
    const t = ((Date.now() - t0) / 1000).toFixed(1).padStart(6);
    process.stderr.write(`[${name} ${t}s] ${msg}\n`);
  };
}

/**
 * Adds an empty `name` section to BENCHMARKS.md right after the `after` section, the first time
 * only (updateSection then fills it), so sections keep the order benchmarks were added in.
 */
export function placeSectionAfter(name: string, after: string, file = BENCHMARKS_MD): void {
  if (!existsSync(file)) return;
  const text = readFileSync(file, 'utf8');
  const end = `<!-- ${after}:end -->`;
  const at = text.indexOf(end);
  if (text.includes(`<!-- ${name}:start -->`) || at < 0) return;
  const cut = at + end.length;
  const block = `\n\n<!-- ${name}:start -->\n<!-- ${name}:end -->`;
  writeFileSync(file, text.slice(0, cut) + block + text.slice(cut));
}

/** Runs a benchmark's main(): exit 0, or 1 with a one-line reason for usage errors. */
export function runBenchMain(name: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      const usage =
        err instanceof BenchUsageError ||
        (err as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS');
      const text = usage ? (err as Error).message : ((err as Error)?.stack ?? String(err));
      process.stderr.write(`${name} benchmark failed: ${text}\n`);
      process.exit(1);
    },
  );
}
