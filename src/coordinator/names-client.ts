/**
 * A client of the coordinator's `GET /v1/names`: follows the cursors page by page until the last
 * page or `limit` names, yielding each name once (the API may repeat a name across pages).
 * Contract: every request is bounded in time (`timeoutMs`) and in size (`MAX_BODY_BYTES`); every
 * failure is a `NamesClientError` whose code says what went wrong and whose message is one line,
 * safe to show (it never contains the token).
 */
import { CodedError } from '../core/errors.js';
import { readBodyUpTo } from '../streams/bounded-body.js';
import { MAX_PAGE_LIMIT } from './query.js';

/** A name as `/v1/names` returns it. */
export interface NameView {
  readonly name: string;
  readonly relay: { readonly id: string; readonly address: string | null };
  readonly ports: readonly number[];
  readonly owner: string;
  /** ISO 8601. */
  readonly since: string;
}

export type NamesClientErrorCode =
  /** No HTTP answer: refused, reset, timed out, name not resolved. */
  | 'UNREACHABLE'
  /** 401: no token, or a wrong one. */
  | 'UNAUTHORIZED'
  /** 400: the coordinator refused the query (a bad prefix, say). */
  | 'BAD_REQUEST'
  /** Any other HTTP error status (503 registry unreachable, 500…). */
  | 'FAILED'
  /** An answer that is not the API's (not JSON, wrong shape, too large, a cursor loop). */
  | 'NOT_A_COORDINATOR';

export class NamesClientError extends CodedError<NamesClientErrorCode> {
  override readonly name = 'NamesClientError';
}

export interface ListNamesOptions {
  /** The coordinator's base URL (`http://127.0.0.1:8080`); a path prefix is kept. */
  readonly base: URL;
  readonly prefix?: string;
  /** At most this many names in all; default every name. */
  readonly limit?: number;
  readonly token?: string;
  /** Per request; default 10 s. */
  readonly timeoutMs?: number;
}

/** Largest answer read: a full page of 1000 names is about 300 KB. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** Every name under `prefix` (or the first `limit`), one page at a time. */
export async function* listNames(opts: ListNamesOptions): AsyncGenerator<NameView[]> {
  const seen = new Set<string>();
  let cursor: string | undefined;
  let left = opts.limit ?? Number.POSITIVE_INFINITY;
  while (left > 0) {
    const url = new URL('v1/names', withSlash(opts.base));
    if (opts.prefix) url.searchParams.set('prefix', opts.prefix);
    url.searchParams.set('limit', String(Math.min(MAX_PAGE_LIMIT, left)));
    if (cursor !== undefined) url.searchParams.set('cursor', cursor);
    const page = parsePage(await getJson(url, opts), opts.base);
    const fresh = page.names.filter((n) => !seen.has(n.name)).slice(0, left);
    for (const n of fresh) seen.add(n.name);
    left -= fresh.length;
    if (fresh.length > 0) yield fresh;
    if (page.cursor === undefined) return;
    if (page.cursor === cursor) {
      throw new NamesClientError('NOT_A_COORDINATOR', `${where(opts.base)} repeated a cursor`);
    }
    cursor = page.cursor;
  }
}

function withSlash(base: URL): URL {
  const u = new URL(base);
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  u.search = '';
  u.hash = '';
  return u;
}

/** `the coordinator at http://host:port`, without any credentials the URL may carry. */
function where(base: URL): string {
  const u = new URL(base);
  u.username = '';
  u.password = '';
  return `the coordinator at ${u.origin}${u.pathname.replace(/\/$/, '')}`;
}

async function getJson(url: URL, opts: ListNamesOptions): Promise<unknown> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  let res: Response;
  try {
    res = await fetch(url, {
      headers: opts.token === undefined ? {} : { authorization: `Bearer ${opts.token}` },
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    throw new NamesClientError(
      'UNREACHABLE',
      `cannot reach ${where(opts.base)}: ${reasonOf(err, timeoutMs)}`,
      { cause: err },
    );
  }
  const text = await readBodyUpTo(res, MAX_BODY_BYTES);
  if (text === undefined) {
    throw new NamesClientError(
      'NOT_A_COORDINATOR',
      `${where(opts.base)} sent an answer larger than ${MAX_BODY_BYTES} bytes`,
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new NamesClientError(
      'NOT_A_COORDINATOR',
      `${where(opts.base)} answered HTTP ${res.status} with something other than JSON: is it a burrow coordinator?`,
    );
  }
  if (res.ok) return body;
  const message = errorMessage(body);
  const detail = message === undefined ? '' : `: ${message}`;
  if (res.status === 401) {
    throw new NamesClientError(
      'UNAUTHORIZED',
      opts.token === undefined
        ? `${where(opts.base)} requires a token (401)`
        : `${where(opts.base)} refused the token (401)`,
    );
  }
  if (res.status === 400) {
    throw new NamesClientError('BAD_REQUEST', `${where(opts.base)} refused the query${detail}`);
  }
  throw new NamesClientError('FAILED', `${where(opts.base)} answered HTTP ${res.status}${detail}`);
}

/** The API's `{"error":{"message"}}`, cut to one short line; undefined when absent. */
function errorMessage(body: unknown): string | undefined {
  const m = (body as { error?: { message?: unknown } } | null)?.error?.message;
  if (typeof m !== 'string') return undefined;
  return m.replace(/\p{Cc}+/gu, ' ').slice(0, 200);
}

const SOCKET_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found (DNS)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

function reasonOf(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return `no answer within ${timeoutMs / 1000}s`;
  const code = e.cause?.code;
  if (code !== undefined) return SOCKET_REASONS[code] ?? code;
  return e.cause?.message ?? (err as Error).message ?? String(err);
}

function isNameView(v: unknown): v is NameView {
  const n = v as Partial<NameView> | null;
  return (
    typeof n === 'object' &&
    n !== null &&
    typeof n.name === 'string' &&
    typeof n.owner === 'string' &&
    typeof n.since === 'string' &&
    Array.isArray(n.ports) &&
    n.ports.every((p) => Number.isInteger(p)) &&
    typeof n.relay === 'object' &&
    n.relay !== null &&
    typeof n.relay.id === 'string' &&
    (typeof n.relay.address === 'string' || n.relay.address === null)
  );
}

function parsePage(body: unknown, base: URL): { names: NameView[]; cursor?: string } {
  const b = body as { names?: unknown; cursor?: unknown } | null;
  if (
    typeof b !== 'object' ||
    b === null ||
    !Array.isArray(b.names) ||
    !b.names.every(isNameView) ||
    (b.cursor !== undefined && typeof b.cursor !== 'string')
  ) {
    throw new NamesClientError(
      'NOT_A_COORDINATOR',
      `${where(base)} answered /v1/names with something other than a page of names: is it a burrow coordinator?`,
    );
  }
  return b.cursor === undefined ? { names: b.names } : { names: b.names, cursor: b.cursor };
}
