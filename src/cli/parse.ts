import { isIP } from 'node:net';
import { configError } from '../core/errors.js';

/**
 * Parsers for flag values. Each throws CONFIG_INVALID naming the flag, so the user sees
 * "--listen: expected HOST:PORT, got "x"" rather than a stack trace.
 */

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** `HOST:PORT`, `[v6]:PORT`, or `:PORT` (all interfaces). */
export function parseHostPort(flag: string, value: string, defaultHost = '0.0.0.0'): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) {
    throw configError(`${flag}: expected HOST:PORT (e.g. 0.0.0.0:2222), got "${value}"`);
  }
  const host = m[1] ?? (m[2] || defaultHost);
  if (m[1] !== undefined && isIP(m[1]) !== 6) {
    throw configError(`${flag}: "[${m[1]}]" is not an IPv6 address`);
  }
  return { host, port };
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `500ms`, `5s`, `2m`, `1h`; a bare number means seconds. */
export function parseDuration(flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw configError(`${flag}: expected a duration like 5s, 500ms or 2m, got "${value}"`);
  const ms = Number(m[1]) * (UNITS[m[2] ?? 's'] ?? 1000);
  if (!Number.isFinite(ms)) throw configError(`${flag}: duration out of range`);
  return Math.round(ms);
}

export function parseCount(flag: string, value: string, min = 1, max = 1_000_000): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw configError(`${flag}: expected a whole number from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

export function parseList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** `HOST[:PORT]` items separated by commas; a missing port means `defaultPort`. */
export function parseRelayList(
  flag: string,
  value: string,
  defaultPort: number,
): { id: string; host: string; port: number }[] {
  const items = parseList(value);
  if (items.length === 0)
    throw configError(`${flag}: expected HOST:PORT[,HOST:PORT…], got "${value}"`);
  const relays = items.map((item) => {
    const withPort =
      /^\[.*\]$/.test(item) || (!item.startsWith('[') && isIP(item) === 6)
        ? `${item.startsWith('[') ? item : `[${item}]`}:${defaultPort}`
        : /:\d+$/.test(item)
          ? item
          : `${item}:${defaultPort}`;
    const { host, port } = parseHostPort(flag, withPort, '');
    if (!host) throw configError(`${flag}: "${item}" has no host`);
    if (port === 0) throw configError(`${flag}: "${item}": port 0 is not a relay port`);
    return { id: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`, host, port };
  });
  const seen = new Set<string>();
  for (const r of relays) {
    if (seen.has(r.id)) throw configError(`${flag}: ${r.id} is listed twice`);
    seen.add(r.id);
  }
  return relays;
}

/** `PORT=HOST:PORT`: the relay port `PORT` of this device leads to local `HOST:PORT`. */
export function parseForwardSpec(
  flag: string,
  spec: string,
): { port: number; targetHost: string; targetPort: number } {
  const usage = () =>
    configError(`${flag}: expected PORT=HOST:PORT (e.g. 22=localhost:22), got "${spec}"`);
  const m = /^(\d{1,5})=(.+)$/.exec(spec.trim());
  const port = m ? Number(m[1]) : Number.NaN;
  if (!m || port < 1 || port > 65535) throw usage();
  let target: HostPort;
  try {
    target = parseHostPort(flag, m[2]!, '');
  } catch {
    throw usage();
  }
  if (!target.host || target.port === 0) throw usage();
  return { port, targetHost: target.host, targetPort: target.port };
}
