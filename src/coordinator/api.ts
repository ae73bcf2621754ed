/**
 * The coordinator's JSON API (Hono). Every route is a read of the registry; nothing is stored
 * here but the placement reservations. Contract:
 * - `/healthz` and `/readyz` are always open (probes); `/v1/*` and `/metrics` need the bearer
 *   token when one is configured (Prometheus sends it with `authorization.credentials_file`),
 *   except `/v1/placement` with `publicPlacement`.
 * - Errors are `{"error":{"code","message"}}`: 400 bad query, 401 no or wrong token, 404 unknown
 *   name or route, 503 registry unreachable, 500 anything else (its cause only logged).
 * - Responses are bounded: names come in pages of at most `MAX_PAGE_LIMIT` (about that many with
 *   Redis, whose SCAN count is a hint), relays are one record each.
 */
import { type Context, Hono, type Next } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';
import type { CoordinatorMetrics } from '../metrics/coordinator.js';
import type { NameRecord, Registry, RelayRecord } from '../registry/index.js';
import { tokenChecker } from './auth.js';
import { asApiError, fromRegistry } from './errors.js';
import { heartbeatAgeMs, Reservations, relayState } from './placement.js';
import { createPlacement, PLACEMENT_PATH, type Placement } from './placement-route.js';
import { API_STATUS, ApiError, type ApiErrorCode, parseName, parseNamesQuery } from './query.js';

export interface ApiDeps {
  readonly registry: Pick<Registry, 'lookup' | 'lookupMany' | 'names' | 'relays'>;
  /** Placement's reservations when `placement` is not given (default: a fresh counter). */
  readonly reservations?: Reservations;
  readonly now: () => number;
  readonly log: Logger;
  /** Counts placements; with it, `GET /metrics` answers its scrape. */
  readonly metrics?: CoordinatorMetrics;
  /** Answers `/v1/placement`; by default one of its own over `registry` and `reservations`. */
  readonly placement?: Placement;
}

export interface ApiConfig {
  /** Bearer token for reads; undefined leaves the API open. */
  readonly token?: string | undefined;
  /** Leaves `/v1/placement` open even with a token. */
  readonly publicPlacement: boolean;
  /** The TTL relays give their registry records (for heartbeat age and `lost`). */
  readonly ttlMs: number;
  readonly version: string;
}

const STATUS: Record<ApiErrorCode, ContentfulStatusCode> = API_STATUS;

function nameView(r: NameRecord, relays: readonly RelayRecord[]) {
  const relay = relays.find((x) => x.relayId === r.relayId);
  return {
    name: r.name,
    relay: { id: r.relayId, address: relay?.address ?? null },
    ports: r.ports,
    owner: r.owner,
    since: new Date(r.since).toISOString(),
  };
}

export function createApi(config: ApiConfig, deps: ApiDeps): Hono {
  const { registry, log, now } = deps;
  const authorized = tokenChecker(config.token);
  const placement =
    deps.placement ??
    createPlacement(config, {
      registry,
      reservations: deps.reservations ?? new Reservations(),
      now,
      log,
      metrics: deps.metrics,
    });
  const app = new Hono();

  app.onError((err, c) => {
    const e = asApiError(err, log);
    return c.json({ error: { code: e.code, message: e.message } }, STATUS[e.code]);
  });
  app.notFound((c) =>
    c.json({ error: { code: 'NOT_FOUND', message: 'no such route' } }, STATUS.NOT_FOUND),
  );

  app.get('/healthz', (c) => c.json({ ok: true }));
  app.get('/readyz', async (c) => {
    await fromRegistry(log, 'readyz', () => registry.relays());
    return c.json({ ok: true });
  });

  const guard = async (c: Context, next: Next) => {
    const open = config.publicPlacement && c.req.path === PLACEMENT_PATH;
    if (!open && !authorized(c.req.header('authorization'))) {
      c.header('WWW-Authenticate', 'Bearer');
      throw new ApiError('UNAUTHORIZED', 'a valid "Authorization: Bearer <token>" is required');
    }
    await next();
  };
  app.use('/v1/*', guard);

  const metrics = deps.metrics;
  if (metrics) {
    app.use('/metrics', guard);
    app.get('/metrics', async (c) => {
      const { contentType, text } = await metrics.scrape();
      return c.body(text, 200, { 'content-type': contentType });
    });
  }

  // Served by withPlacementFastPath on the coordinator's listener; here for app.fetch callers.
  app.get(PLACEMENT_PATH, async (c) =>
    c.json({ relays: await placement.answer(c.req.query('name'), c.req.query('avoid')) }),
  );

  app.get('/v1/names/:name', async (c) => {
    const name = parseName(c.req.param('name'));
    const [record, relays] = await fromRegistry(log, 'lookup', () =>
      Promise.all([registry.lookup(name), registry.relays()]),
    );
    if (!record) throw new ApiError('NOT_FOUND', `no device holds ${name}`);
    return c.json(nameView(record, relays));
  });

  app.get('/v1/names', async (c) => {
    const q = parseNamesQuery(c.req.query());
    const [page, relays] = await fromRegistry(log, 'names', () =>
      Promise.all([registry.names(q), registry.relays()]),
    );
    const names = page.names.map((r) => nameView(r, relays));
    return c.json(page.cursor === undefined ? { names } : { names, cursor: page.cursor });
  });

  app.get('/v1/relays', async (c) => {
    const relays = await fromRegistry(log, 'relays', () => registry.relays());
    const t = now();
    const view = relays
      .map((r) => ({
        id: r.relayId,
        address: r.address,
        state: relayState(r, t, config.ttlMs),
        devices: r.connections,
        names: r.names,
        capacity: r.capacity,
        heartbeatAgeMs: heartbeatAgeMs(r, t, config.ttlMs),
        version: r.version,
        startedAt: new Date(r.startedAt).toISOString(),
      }))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    return c.json({ relays: view });
  });

  app.get('/v1/status', async (c) => {
    const started = now();
    let relays: RelayRecord[] | undefined;
    let error: string | undefined;
    try {
      relays = await registry.relays();
    } catch (err) {
      error = 'unreachable';
      log.warn({ err: (err as Error).message }, 'registry call failed');
    }
    const t = now();
    const count = { up: 0, draining: 0, lost: 0 };
    for (const r of relays ?? []) count[relayState(r, t, config.ttlMs)]++;
    return c.json({
      version: config.version,
      registry: error
        ? { reachable: false, error }
        : { reachable: true, latencyMs: Math.max(0, t - started) },
      relays: count,
      devices: (relays ?? []).reduce((n, r) => n + r.connections, 0),
      names: (relays ?? []).reduce((n, r) => n + r.names, 0),
    });
  });

  return app;
}
