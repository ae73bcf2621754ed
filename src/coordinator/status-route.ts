/**
 * `GET /` on the coordinator: the status page (status-page.ts) from one `relays()` call, one
 * `lookup()` when a name is searched (`/?q=NAME`), and the event ring. Contract:
 * - With a token configured the page needs it like the API's reads do: `Authorization: Bearer`
 *   or, so that a browser can open it, HTTP Basic with the token as the password (any user);
 *   without it the answer is 401 with a Basic challenge.
 * - The page always renders (200): an unreachable registry is shown on it, not an error page.
 * - Headers: the strict `STATUS_PAGE_CSP`, `nosniff`, `no-store`, `no-referrer`, and
 *   `Server-Timing: page;dur=MS`, the time from the request to the rendered page.
 */
import type { Hono } from 'hono';
import type { Logger } from 'pino';
import { checkName } from '../core/names.js';
import type { Registry, RelayRecord } from '../registry/index.js';
import { bearerChecker } from './auth.js';
import type { EventRing } from './events.js';
import { heartbeatAgeMs, relayState } from './placement.js';
import {
  type PageView,
  type RelayRow,
  renderStatusPage,
  type SearchResult,
  STATUS_PAGE_CSP,
} from './status-page.js';

/** How often the page reloads itself. */
export const STATUS_PAGE_REFRESH_S = 5;
/** Events shown. */
const EVENTS_SHOWN = 50;
/** Longest search text echoed back into the box. */
const MAX_QUERY_ECHO = 253;

export interface StatusPageConfig {
  readonly token?: string | undefined;
  readonly ttlMs: number;
  readonly version: string;
  readonly refreshS?: number;
}

export interface StatusPageDeps {
  readonly registry: Pick<Registry, 'lookup' | 'relays'>;
  readonly events: EventRing;
  readonly now: () => number;
  readonly log: Logger;
}

/**
 * A check of the `Authorization` header for `token`: Bearer, or Basic whose password is the
 * token. Both end in the same constant-time comparison (auth.ts).
 */
export function pageAuthorizer(token: string): (header: string | undefined) => boolean {
  const bearer = bearerChecker(token);
  return (header) => {
    const basic = /^Basic +([A-Za-z0-9+/=]{1,8192})\s*$/i.exec(header ?? '');
    if (!basic) return bearer(header);
    const decoded = Buffer.from(basic[1] ?? '', 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const password = decoded.slice(colon + 1);
    return colon >= 0 && !/\s/.test(password) && bearer(`Bearer ${password}`);
  };
}

function row(r: RelayRecord, now: number, ttlMs: number): RelayRow {
  return {
    id: r.relayId,
    address: r.address,
    state: relayState(r, now, ttlMs),
    devices: r.connections,
    names: r.names,
    capacity: r.capacity,
    heartbeatAgeMs: heartbeatAgeMs(r, now, ttlMs),
    version: r.version,
  };
}

async function search(
  registry: StatusPageDeps['registry'],
  query: string,
  relays: readonly RelayRecord[] | undefined,
): Promise<SearchResult> {
  const checked = checkName(query);
  if (!checked.ok) return { kind: 'invalid', query, reason: checked.reason };
  const name = checked.name;
  if (relays === undefined) return { kind: 'unavailable', name };
  const record = await registry.lookup(name).catch(() => null);
  if (record === null) return { kind: 'unavailable', name };
  if (record === undefined) return { kind: 'missing', name };
  return {
    kind: 'found',
    name: record.name,
    relayId: record.relayId,
    address: relays.find((r) => r.relayId === record.relayId)?.address,
    ports: record.ports,
    owner: record.owner,
    since: record.since,
  };
}

export function mountStatusPage(app: Hono, config: StatusPageConfig, deps: StatusPageDeps): void {
  const { registry, now, log } = deps;
  const authorized = config.token === undefined ? () => true : pageAuthorizer(config.token);
  app.get('/', async (c) => {
    if (!authorized(c.req.header('authorization'))) {
      c.header('WWW-Authenticate', 'Basic realm="burrow coordinator", charset="UTF-8"');
      return c.text('the status page needs the API token (as the password)\n', 401);
    }
    const began = performance.now();
    const started = now();
    let relays: RelayRecord[] | undefined;
    try {
      relays = await registry.relays();
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'registry call failed (status page)');
    }
    const t = now();
    const q = c.req.query('q');
    const query = q?.slice(0, MAX_QUERY_ECHO);
    const view: PageView = {
      now: t,
      version: config.version,
      refreshS: config.refreshS ?? STATUS_PAGE_REFRESH_S,
      registry:
        relays === undefined ? { reachable: false } : { reachable: true, latencyMs: t - started },
      relays: (relays ?? [])
        .map((r) => row(r, t, config.ttlMs))
        .sort((a, b) => (a.id < b.id ? -1 : 1)),
      events: deps.events.recent(EVENTS_SHOWN),
      ...(q === undefined || q === '' || query === undefined
        ? {}
        : { search: { query, result: await search(registry, q, relays) } }),
    };
    c.header('Content-Security-Policy', STATUS_PAGE_CSP);
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Cache-Control', 'no-store');
    c.header('Referrer-Policy', 'no-referrer');
    const body = renderStatusPage(view);
    c.header('Server-Timing', `page;dur=${(performance.now() - began).toFixed(2)}`);
    return c.html(body);
  });
}
