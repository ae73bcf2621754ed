/**
 * `startCoordinator`: the API of api.ts and the status page (status-route.ts) on an HTTP
 * listener. Stateless apart from placement reservations and the status page's recent events
 * (event-feed.ts), so any number can run over one registry. Lifecycle: resolves once listening;
 * `close()` stops the event feed, stops accepting, ends idle keep-alive connections and waits for requests in flight
 * (bounded by the registry's own command timeout); it is idempotent and does not close the
 * registry, which the caller owns.
 */
import { createServer } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { Logger } from 'pino';
import { type CoordinatorMetrics, createCoordinatorMetrics } from '../metrics/coordinator.js';
import { createMetricsRegistry } from '../metrics/process.js';
import type { Registry } from '../registry/index.js';
import { listenHttp } from '../streams/http-listener.js';
import { createApi } from './api.js';
import { tokenChecker } from './auth.js';
import { startEventFeed } from './event-feed.js';
import { Reservations, relayState } from './placement.js';
import { createPlacement, withPlacementFastPath } from './placement-route.js';
import { mountStatusPage } from './status-route.js';

export interface CoordinatorConfig {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly token?: string | undefined;
  readonly publicPlacement: boolean;
  readonly ttlMs: number;
  readonly version: string;
  /** How often the relay list is polled for the status page's events (default 1 s). */
  readonly eventPollMs?: number;
}

export interface CoordinatorDeps {
  readonly registry: Pick<Registry, 'lookup' | 'lookupMany' | 'names' | 'relays' | 'onTakeover'>;
  readonly log: Logger;
  readonly now?: () => number;
  /** Where `/metrics` reports (share one registry with a relay in the same process); default its own. */
  readonly metrics?: CoordinatorMetrics;
}

export interface Coordinator {
  address(): { host: string; port: number };
  close(): Promise<void>;
}

export async function startCoordinator(
  config: CoordinatorConfig,
  deps: CoordinatorDeps,
): Promise<Coordinator> {
  const now = deps.now ?? Date.now;
  const metrics = deps.metrics ?? createCoordinatorMetrics(createMetricsRegistry());
  metrics.watch({
    relays: () => deps.registry.relays(),
    stateOf: (r, t) => relayState(r, t, config.ttlMs),
    now,
  });
  const placement = createPlacement(config, {
    registry: deps.registry,
    reservations: new Reservations(),
    now,
    log: deps.log,
    metrics,
  });
  const app = createApi(config, {
    registry: deps.registry,
    now,
    log: deps.log,
    metrics,
    placement,
  });
  const feed = startEventFeed(
    { ttlMs: config.ttlMs, intervalMs: config.eventPollMs ?? 1000 },
    { registry: deps.registry, now, log: deps.log },
  );
  mountStatusPage(app, config, { registry: deps.registry, events: feed.ring, now, log: deps.log });
  const server = createServer(
    withPlacementFastPath(getRequestListener(app.fetch), {
      placement,
      authorized: tokenChecker(config.token),
      publicPlacement: config.publicPlacement,
      log: deps.log,
    }),
  );
  return listenHttp(server, config, () => feed.close());
}
