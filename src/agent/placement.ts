/**
 * Asking the coordinator where to connect: `GET <coordinator>/v1/placement?name=NAME[&avoid=A]`.
 *
 * Contract:
 * - `askPlacement` settles within `timeoutMs` (connect, headers and body together), never throws,
 *   and reads at most `MAX_PLACEMENT_BYTES` of the body: anything else is an `{error}` line that
 *   is safe to log (it never holds the token).
 * - `parsePlacement` (pure) accepts only `{"relays":[{"id":"…","address":"host:port"},…]}`:
 *   an object with a `relays` array of at most `MAX_ANSWER_RELAYS` objects, each with a non-empty
 *   string `id` and an `address` that is a host name, IPv4 address or `[IPv6]` address with a
 *   port 1–65535. Any other shape is refused whole, not partly used. Repeated addresses count
 *   once; at most `MAX_CANDIDATES` are kept, in the coordinator's order.
 * - `placementTimeoutMs` (pure) bounds a question: `PLACEMENT_TIMEOUT_MS` when the agent has
 *   `--relay` entries to fall back on; with none, as long as a connection attempt
 *   (`--connect-timeout`), since giving up early would only ask again at the back of the same
 *   queue while the coordinator answers the abandoned question all the same.
 * - The relays it returns are plain addresses: the agent checks their host keys exactly as it
 *   checks `--relay` entries (known_hosts or pinned keys); a coordinator cannot make it trust a key.
 */
import { isIP } from 'node:net';
import { readBodyUpTo } from '../streams/bounded-body.js';
import type { RelayAddress } from './agent.js';

export type PlacementAnswer =
  | { readonly relays: readonly RelayAddress[] }
  | { readonly error: string };

/** Longest body read from the coordinator; a placement answer is a few hundred bytes. */
export const MAX_PLACEMENT_BYTES = 64 * 1024;
/** Most relays an answer may list; more is a malformed answer. */
export const MAX_ANSWER_RELAYS = 1000;
/** Relays kept from an answer, best first. */
export const MAX_CANDIDATES = 16;
/** Default bound on one question, connect to last byte. */
export const PLACEMENT_TIMEOUT_MS = 2000;

/** The bound on one question for an agent with `fallbackRelays` `--relay` entries (see the contract). */
export function placementTimeoutMs(fallbackRelays: number, connectTimeoutMs: number): number {
  return fallbackRelays > 0
    ? PLACEMENT_TIMEOUT_MS
    : Math.max(PLACEMENT_TIMEOUT_MS, connectTimeoutMs);
}

const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9-]{1,63})*\.?$/;

/** `host:port` or `[v6]:port` as the relay advertises it, or undefined when it is not one. */
export function parseRelayAddress(address: string): RelayAddress | undefined {
  if (address.length > 300) return undefined;
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  if (m[1] !== undefined) {
    if (isIP(m[1]) !== 6) return undefined;
    return { id: `[${m[1]}]:${port}`, host: m[1], port };
  }
  const host = m[2]!;
  if (isIP(host) !== 4 && !HOSTNAME_RE.test(host)) return undefined;
  return { id: `${host}:${port}`, host, port };
}

/** The candidates of a placement answer's body, or why it is refused (see the contract). */
export function parsePlacement(body: string): PlacementAnswer {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { error: 'the coordinator answered with something that is not JSON' };
  }
  const bad = (why: string) => ({ error: `malformed placement answer: ${why}` });
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return bad('not an object');
  }
  const list = (json as { relays?: unknown }).relays;
  if (!Array.isArray(list)) return bad('no "relays" list');
  if (list.length > MAX_ANSWER_RELAYS) return bad(`more than ${MAX_ANSWER_RELAYS} relays`);
  const relays: RelayAddress[] = [];
  const seen = new Set<string>();
  for (const [i, item] of list.entries()) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      return bad(`relays[${i}] is not an object`);
    }
    const { id, address } = item as { id?: unknown; address?: unknown };
    if (typeof id !== 'string' || id === '' || id.length > 512) {
      return bad(`relays[${i}].id is not a relay id`);
    }
    const parsed = typeof address === 'string' ? parseRelayAddress(address) : undefined;
    if (!parsed) return bad(`relays[${i}].address is not HOST:PORT`);
    if (seen.has(parsed.id) || relays.length >= MAX_CANDIDATES) continue;
    seen.add(parsed.id);
    relays.push(parsed);
  }
  return { relays };
}

export interface PlacementClient {
  /** The coordinator's base URL (`http://host:port` or with a path prefix). */
  readonly url: string;
  /** Bearer token, if the coordinator wants one. Never logged. */
  readonly token?: string | undefined;
  /** The device's first name. */
  readonly name: string;
  readonly timeoutMs?: number;
}

/** The placement URL for `name`, avoiding `avoid`. */
export function placementUrl(base: string, name: string, avoid?: string): string {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/placement`;
  url.search = '';
  url.searchParams.set('name', name);
  if (avoid !== undefined) url.searchParams.set('avoid', avoid);
  return url.toString();
}

/** One question to the coordinator (see the contract). */
export async function askPlacement(c: PlacementClient, avoid?: string): Promise<PlacementAnswer> {
  const timeoutMs = c.timeoutMs ?? PLACEMENT_TIMEOUT_MS;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(placementUrl(c.url, c.name, avoid), {
      headers: {
        accept: 'application/json',
        ...(c.token === undefined ? {} : { authorization: `Bearer ${c.token}` }),
      },
      redirect: 'error',
      signal,
    });
    const body = await readBodyUpTo(res, MAX_PLACEMENT_BYTES);
    if (body === undefined) {
      return { error: `the coordinator's answer is longer than ${MAX_PLACEMENT_BYTES} bytes` };
    }
    if (res.status !== 200) return { error: httpError(res.status, body) };
    return parsePlacement(body);
  } catch (err) {
    if (signal.aborted) return { error: `the coordinator did not answer within ${timeoutMs} ms` };
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.cause?.code ?? e.cause?.message ?? e.message;
    return { error: `cannot reach the coordinator: ${why}` };
  }
}

function httpError(status: number, body: string): string {
  let code = '';
  try {
    const e = (JSON.parse(body) as { error?: { code?: unknown } }).error?.code;
    if (typeof e === 'string' && /^[A-Z_]{1,40}$/.test(e)) code = ` ${e}`;
  } catch {
    // Not JSON: the status alone says enough.
  }
  if (status === 401) return `the coordinator refused the token (HTTP 401${code})`;
  return `the coordinator answered HTTP ${status}${code}`;
}
