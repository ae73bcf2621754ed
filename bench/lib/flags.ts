import { BenchUsageError } from './report.js';
import type { FlagSpecs } from './runner.js';

/** `--size`: bytes, with an optional K/M/G suffix (binary: 1G = 2^30); at least 1. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMG]i?B?)?$/i.exec(text.trim());
  if (!m) throw new BenchUsageError(`--size: expected e.g. 1G, 512M or 1048576, got "${text}"`);
  const unit = (m[2] ?? '').charAt(0).toUpperCase();
  const mult = unit === 'G' ? 2 ** 30 : unit === 'M' ? 2 ** 20 : unit === 'K' ? 2 ** 10 : 1;
  const bytes = Math.round(Number(m[1]) * mult);
  if (bytes < 1) throw new BenchUsageError(`--size: must be at least 1 byte, got "${text}"`);
  return bytes;
}

/**
 * `--size` as a list: one size or several, comma-separated (`1G,512M`), each as parseSize reads
 * it, in the order given; a size listed twice is refused (its results would be ambiguous).
 */
export function parseSizes(text: string): number[] {
  const items = text.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) {
    throw new BenchUsageError(
      `--size: expected a size or a comma-separated list such as 1G,512M, got "${text}"`,
    );
  }
  const sizes = items.map(parseSize);
  const twice = items.find((_, i) => sizes.indexOf(sizes[i]!) !== i);
  if (twice !== undefined)
    throw new BenchUsageError(`--size: ${twice} is listed twice in "${text}"`);
  return sizes;
}

/** `--<flag>`: a whole number of at least `min` (1 unless given). */
export function parseCount(flag: string, text: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    throw new BenchUsageError(`--${flag}: expected a whole number ≥ ${min}, got "${text}"`);
  }
  return n;
}

/** `--<flag>`: an interval such as 10s, 500ms or 1m, in ms; at least 100 ms. */
export function parseInterval(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new BenchUsageError(`--${flag}: expected e.g. 10s, 500ms or 1m, got "${text}"`);
  const ms = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000);
  if (ms < 100) throw new BenchUsageError(`--${flag}: at least 100ms, got "${text}"`);
  return ms;
}

/** An interval in ms as a flag would say it: `15000` → `15s`, `1500` → `1500ms`. */
export function intervalText(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** `--ttl` and `--heartbeat`: the registry timing of the relays a benchmark starts. */
export const REGISTRY_TIMING_FLAGS = {
  ttl: { type: 'interval', default: '15s', help: "the relays' --registry-ttl" },
  heartbeat: { type: 'interval', default: '5s', help: "the relays' --heartbeat-interval" },
} as const satisfies FlagSpecs;
