/**
 * `GET /v1/placement`: what a device asks before it connects, and the coordinator's busiest
 * route. `createPlacement` answers one question (validation, the name's holder read from the
 * registry, ranking, the reservation, the metric); both the Hono route in api.ts and the fast
 * path below call it, so the two cannot drift apart.
 *
 * The fast path answers the route on node:http's own request and response, before
 * @hono/node-server turns them into a Request and a Response: under load that conversion and
 * Hono's dispatch were about a seventh of the coordinator's CPU (`perf`). Contract of
 * `withPlacementFastPath`:
 * - It takes only `GET` requests whose path is exactly `/v1/placement`; anything else (HEAD, a
 *   percent-encoded or trailing-slash path, other routes) goes to `next`, the Hono app.
 * - Its answers are the route's: the bearer token unless `publicPlacement` (401 with
 *   `WWW-Authenticate: Bearer`), 400 for a bad query, 503 when the registry is unreachable, 500
 *   for anything else (its cause only logged), each as `{"error":{"code","message"}}`; 200
 *   `{"relays":[…]}` otherwise. Bodies are JSON with a Content-Length, never chunked, and bounded
 *   (the query is capped by the validators, the answer by the number of relays).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { CoordinatorMetrics } from '../metrics/coordinator.js';
import type { NameRecord, Registry, RelayRecord } from '../registry/index.js';
import { asApiError, fromRegistry } from './errors.js';
import { NameLookups } from './name-lookups.js';
import { type Candidate, place, type Reservations } from './placement.js';
import { API_STATUS, ApiError, parseAvoid, parseName } from './query.js';
import { RelayCache } from './relay-cache.js';

export const PLACEMENT_PATH = '/v1/placement';

export interface Placement {
  /**
   * The candidates for a device asking with these query values, best first. Throws ApiError:
   * BAD_REQUEST for a bad `name` or `avoid`, REGISTRY_UNAVAILABLE when the registry fails (the
   * cause logged, not sent).
   */
  answer(rawName: string | undefined, rawAvoid: string | undefined): Promise<Candidate[]>;
}

export function createPlacement(
  config: { readonly ttlMs: number },
  deps: {
    readonly registry: Pick<Registry, 'lookupMany' | 'relays'>;
    readonly reservations: Reservations;
    readonly now: () => number;
    readonly log: Logger;
    readonly metrics?: CoordinatorMetrics | undefined;
  },
): Placement {
  const { log, metrics, now } = deps;
  // The relay records are read at most every 250 ms; the name's holder on every question.
  const relayCache = new RelayCache(deps.registry, now);
  const nameLookups = new NameLookups(deps.registry);
  return {
    async answer(rawName, rawAvoid) {
      let name: string;
      let avoid: string | undefined;
      try {
        name = parseName(rawName);
        avoid = parseAvoid(rawAvoid);
      } catch (err) {
        metrics?.placed('bad-request');
        throw err;
      }
      let held: NameRecord | undefined;
      let relays: RelayRecord[];
      try {
        [held, relays] = await fromRegistry(log, 'placement', () =>
          Promise.all([nameLookups.lookup(name), relayCache.get()]),
        );
      } catch (err) {
        metrics?.placed('registry-unavailable');
        throw err;
      }
      const candidates = place(deps.reservations, {
        relays,
        heldBy: held?.relayId,
        avoid,
        now: now(),
        ttlMs: config.ttlMs,
      });
      metrics?.placed(candidates.length > 0 ? 'placed' : 'none');
      return candidates;
    },
  };
}

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

function send(res: ServerResponse, status: number, body: string, headers = {}): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

function sendError(res: ServerResponse, e: ApiError, headers = {}): void {
  send(
    res,
    API_STATUS[e.code],
    JSON.stringify({ error: { code: e.code, message: e.message } }),
    headers,
  );
}

/** `next` with `GET /v1/placement` answered in front of it (see the contract at the top). */
export function withPlacementFastPath(
  next: Listener,
  opts: {
    readonly placement: Placement;
    /** Checks an Authorization header; always true when no token is configured. */
    readonly authorized: (header: string | undefined) => boolean;
    readonly publicPlacement: boolean;
    readonly log: Logger;
  },
): Listener {
  const { placement, authorized, log } = opts;
  const answer = async (res: ServerResponse, query: URLSearchParams): Promise<void> => {
    try {
      const relays = await placement.answer(
        query.get('name') ?? undefined,
        query.get('avoid') ?? undefined,
      );
      send(res, 200, JSON.stringify({ relays }));
    } catch (err) {
      sendError(res, asApiError(err, log));
    }
  };
  return (req, res) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    if (req.method !== 'GET' || (q < 0 ? url : url.slice(0, q)) !== PLACEMENT_PATH) {
      next(req, res);
      return;
    }
    if (!opts.publicPlacement && !authorized(req.headers.authorization)) {
      const e = new ApiError('UNAUTHORIZED', 'a valid "Authorization: Bearer <token>" is required');
      sendError(res, e, { 'www-authenticate': 'Bearer' });
      return;
    }
    void answer(res, new URLSearchParams(q < 0 ? '' : url.slice(q + 1)));
  };
}
