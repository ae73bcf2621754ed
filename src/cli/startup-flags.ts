import { totalmem } from 'node:os';
import { configError } from '../core/errors.js';
import type { StartupLimits } from '../relay/index.js';
import { DEFAULT_PENALTIES, type PenaltyConfig, type PenaltyKind } from '../relay/index.js';
import { parseCount, parseDuration } from './parse.js';

/**
 * Parsers for the relay's pre-auth flood flags: `--max-startups` (OpenSSH's MaxStartups) and
 * `--per-source-penalties` (the subset of OpenSSH's PerSourcePenalties that burrow implements).
 * Each throws CONFIG_INVALID naming the flag.
 */

/** What one pending (pre-auth) connection is budgeted: socket, ssh2 parser and buffers. */
const BYTES_PER_STARTUP = 64 * 1024;
/** Share of the machine's memory pending connections may take at the default cap. */
const MEMORY_SHARE = 1 / 64;
const MIN_FULL = 256;
const MAX_FULL = 4096;

/** The default `full`: 1/64 of total memory at 64 KiB per pending connection, in 256..4096. */
export function defaultFull(memoryBytes: number = totalmem()): number {
  const n = Math.floor((memoryBytes * MEMORY_SHARE) / BYTES_PER_STARTUP);
  return Math.min(MAX_FULL, Math.max(MIN_FULL, n));
}

type Startups = Omit<StartupLimits, 'perSource'>;

/** `full` alone (start = full/2, rate 30, OpenSSH's 10:30:100 shape) or `start:rate:full`. */
export function parseMaxStartups(flag: string, value: string | undefined): Startups {
  if (value === undefined || value.trim() === '') {
    const full = defaultFull();
    return { start: Math.floor(full / 2), rate: 30, full };
  }
  const parts = value.trim().split(':');
  if (parts.length === 1) {
    const full = parseCount(flag, value);
    return { start: Math.floor(full / 2), rate: 30, full };
  }
  const [a, b, c] = parts;
  if (parts.length !== 3 || a === undefined || b === undefined || c === undefined) {
    throw configError(
      `${flag}: expected FULL or START:RATE:FULL (e.g. 2048:30:4096), got "${value}"`,
    );
  }
  const start = parseCount(flag, a);
  const rate = parseCount(flag, b, 1, 100);
  const full = parseCount(flag, c);
  if (start > full) {
    throw configError(`${flag}: START (${start}) must not exceed FULL (${full}) in "${value}"`);
  }
  return { start, rate, full };
}

const KINDS: readonly PenaltyKind[] = ['authfail', 'noauth', 'grace-exceeded', 'max-per-source'];

/**
 * `no` (or `off`) turns penalties off; otherwise space- or comma-separated `KEYWORD:VALUE` items
 * override the defaults: `authfail`, `noauth`, `grace-exceeded`, `max-per-source`, `min`, `max`
 * (durations), `max-sources` (a count), `overflow` (`permissive` or `deny-all`). An empty value
 * or `yes` keeps the defaults.
 */
export function parsePenalties(flag: string, value: string | undefined): PenaltyConfig | undefined {
  const text = (value ?? '').trim();
  if (text === 'no' || text === 'off') return undefined;
  const add: Record<PenaltyKind, number> = { ...DEFAULT_PENALTIES.add };
  let { minMs, maxMs, maxSources, overflow } = DEFAULT_PENALTIES;
  const items = text === '' || text === 'yes' ? [] : text.split(/[\s,]+/);
  for (const item of items) {
    const m = /^([a-z-]+):(.+)$/.exec(item);
    const key = m?.[1] ?? '';
    const arg = m?.[2] ?? '';
    const named = `${flag} ${key}`;
    if ((KINDS as readonly string[]).includes(key))
      add[key as PenaltyKind] = parseDuration(named, arg);
    else if (key === 'min') minMs = parseDuration(named, arg);
    else if (key === 'max') maxMs = parseDuration(named, arg);
    else if (key === 'max-sources') maxSources = parseCount(named, arg, 1, 10_000_000);
    else if (key === 'overflow' && (arg === 'permissive' || arg === 'deny-all')) overflow = arg;
    else {
      throw configError(
        `${flag}: expected "no" or items like grace-exceeded:10s ` +
          `(${[...KINDS, 'min', 'max', 'max-sources', 'overflow'].join(', ')}), got "${item.slice(0, 40)}"`,
      );
    }
  }
  if (minMs > maxMs) throw configError(`${flag}: min must not exceed max`);
  return { add, minMs, maxMs, maxSources, overflow };
}
