/**
 * Query validation for the coordinator's API: everything a client sends is checked here, with a
 * length cap, before it reaches the registry. Pure; each parser returns the value or an
 * `ApiError` that the server renders as 400 `{"error":{"code","message"}}`.
 */
import { checkName } from '../core/names.js';

export type ApiErrorCode =
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'NOT_FOUND'
  | 'REGISTRY_UNAVAILABLE'
  | 'INTERNAL';

/** The HTTP status each error code is answered with. */
export const API_STATUS = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  REGISTRY_UNAVAILABLE: 503,
  INTERNAL: 500,
} as const satisfies Record<ApiErrorCode, number>;

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  constructor(code: ApiErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;
/** Longest prefix accepted: a name is at most 253 characters. */
const MAX_PREFIX = 253;
/** Longest cursor accepted: Redis SCAN cursors are decimal, the memory registry's are names. */
const MAX_CURSOR = 253;
const PREFIX_RE = /^[a-z0-9._-]*$/;
const CURSOR_RE = /^[a-z0-9._-]+$/;

function bad(message: string): ApiError {
  return new ApiError('BAD_REQUEST', message);
}

/** A device name from a query or path: required, normalised by `checkName`. */
export function parseName(raw: string | undefined, what = 'name'): string {
  if (raw === undefined || raw === '') throw bad(`${what} is required`);
  const checked = checkName(raw);
  if (!checked.ok) throw bad(`${what}: ${checked.reason}`);
  return checked.name;
}

/** Longest `avoid` accepted: a relay address, `host:port` or `[v6]:port`. */
const MAX_ADDRESS = 300;
const ADDRESS_RE = /^[A-Za-z0-9._\-:[\]]+:\d{1,5}$/;

/** `avoid` of a placement request: absent, or a relay address (`host:port`). */
export function parseAvoid(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (raw.length > MAX_ADDRESS || !ADDRESS_RE.test(raw)) {
    throw bad('avoid: expected a relay address, HOST:PORT');
  }
  return raw;
}

export interface NamesQuery {
  readonly prefix: string;
  readonly limit: number;
  readonly cursor?: string;
}

/** `prefix` (optional), `limit` (1..1000, default 100), `cursor` (from the previous page). */
export function parseNamesQuery(q: {
  prefix?: string | undefined;
  limit?: string | undefined;
  cursor?: string | undefined;
}): NamesQuery {
  const prefix = (q.prefix ?? '').toLowerCase();
  if (prefix.length > MAX_PREFIX) throw bad(`prefix longer than ${MAX_PREFIX} characters`);
  if (!PREFIX_RE.test(prefix)) throw bad('prefix: letters, digits, "-", "_" and "." only');
  let limit = DEFAULT_PAGE_LIMIT;
  if (q.limit !== undefined) {
    if (!/^\d{1,7}$/.test(q.limit))
      throw bad(`limit: expected a whole number 1..${MAX_PAGE_LIMIT}`);
    limit = Number(q.limit);
    if (limit < 1 || limit > MAX_PAGE_LIMIT) {
      throw bad(`limit: expected a whole number 1..${MAX_PAGE_LIMIT}`);
    }
  }
  if (q.cursor === undefined) return { prefix, limit };
  if (q.cursor.length > MAX_CURSOR || !CURSOR_RE.test(q.cursor)) {
    throw bad('cursor: not one this API returned');
  }
  return { prefix, limit, cursor: q.cursor };
}
