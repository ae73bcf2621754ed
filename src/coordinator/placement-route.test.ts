/**
 * The placement fast path answers exactly as the Hono route does: the same questions, over HTTP
 * to a listening coordinator (fast path) and through `app.fetch` (Hono), each side with its own
 * reservations over the same registry and clock, must give the same status, content type,
 * `WWW-Authenticate` and JSON body, one after the other.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import pino from 'pino';
import { MemoryRegistry, type Registry } from '../registry/index.js';
import { createApi } from './api.js';
import { startCoordinator } from './coordinator.js';
import { Reservations } from './placement.js';

const log = pino({ level: 'silent' });
const TOKEN = 'fast-path-token-7f3a';
const NOW = 5_000_000;
const TTL = 600_000;

async function world(): Promise<MemoryRegistry> {
  const registry = new MemoryRegistry(() => NOW);
  const relay = (id: string, port: number) => ({
    relayId: id,
    address: `127.0.0.1:${port}`,
    names: 1,
    connections: 1,
    capacity: 10,
    draining: false,
    version: '0',
    startedAt: 0,
  });
  await registry.heartbeat(relay('r1#a', 2222), [{ name: 'dev1', port: 22, owner: 'O' }], TTL);
  await registry.heartbeat(relay('r2#b', 2223), [], TTL);
  await registry.claim({ name: 'dev1', port: 22, owner: 'O', relayId: 'r1#a', ttlMs: TTL });
  return registry;
}

interface Seen {
  status: number;
  type: string | null;
  authenticate: string | null;
  body: unknown;
}

/** One raw HTTP/1.1 request (no client-side normalisation of the path). */
function overHttp(port: number, method: string, path: string, auth?: string): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method, path, headers: auth ? { authorization: auth } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          resolve({
            status: res.statusCode ?? 0,
            type: res.headers['content-type'] ?? null,
            authenticate: (res.headers['www-authenticate'] as string | undefined) ?? null,
            body: text === '' ? null : JSON.parse(text),
          });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function throughHono(
  app: ReturnType<typeof createApi>,
  method: string,
  path: string,
  auth?: string,
): Promise<Seen> {
  const res = await app.fetch(
    new Request(`http://127.0.0.1${path}`, {
      method,
      headers: auth ? { authorization: auth } : {},
    }),
  );
  const text = await res.text();
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    authenticate: res.headers.get('www-authenticate'),
    body: text === '' ? null : JSON.parse(text),
  };
}

const QUESTIONS: [method: string, path: string, auth?: string][] = [
  ['GET', '/v1/placement?name=dev1'],
  ['GET', '/v1/placement?name=fresh'],
  ['GET', '/v1/placement?name=fresh2'],
  ['GET', '/v1/placement?name=fresh3&avoid=127.0.0.1:2223'],
  ['GET', '/v1/placement?name=DEV1'],
  ['GET', '/v1/placement?name=dev1&name=fresh'],
  ['GET', '/v1/placement'],
  ['GET', '/v1/placement?name='],
  ['GET', '/v1/placement?name=bad%20name'],
  ['GET', `/v1/placement?name=${'a'.repeat(300)}`],
  ['GET', '/v1/placement?name=dev1&avoid=not-an-address'],
  ['GET', '/v1/placement?name=%zz'],
  ['GET', '/v1/placement/?name=dev1'],
  ['HEAD', '/v1/placement?name=dev1'],
  ['POST', '/v1/placement?name=dev1'],
  ['GET', '/v1/placement?name=dev1', `Bearer ${TOKEN}`],
  ['GET', '/v1/placement?name=dev1', 'Bearer wrong'],
  ['GET', '/v1/placement?name=dev1', `Basic ${TOKEN}`],
];

async function compare(config: { token?: string; publicPlacement: boolean }): Promise<Seen[]> {
  const registry = await world();
  const coordinator = await startCoordinator(
    { host: '127.0.0.1', port: 0, ttlMs: TTL, version: '0', ...config },
    { registry, log, now: () => NOW },
  );
  const app = createApi(
    { ttlMs: TTL, version: '0', ...config },
    { registry, reservations: new Reservations(), now: () => NOW, log },
  );
  const { port } = coordinator.address();
  const seen: Seen[] = [];
  try {
    for (const [method, path, auth] of QUESTIONS) {
      const fast = await overHttp(port, method, path, auth);
      const hono = await throughHono(app, method, path, auth);
      assert.deepEqual(fast, hono, `${method} ${path} ${auth ?? ''}`);
      seen.push(fast);
    }
  } finally {
    await coordinator.close();
  }
  return seen;
}

describe('GET /v1/placement on the fast path', () => {
  it('answers as the Hono route with the API open', async () => {
    const seen = await compare({ publicPlacement: false });
    // The comparison only means something if the questions reached every kind of answer.
    assert.deepEqual([...new Set(seen.map((s) => s.status))].sort(), [200, 400, 404]);
    const first = (i: number) => (seen[i]!.body as { relays: { id: string }[] }).relays[0]?.id;
    assert.equal(first(0), 'r1#a', 'a held name is placed where it is held');
    assert.notEqual(first(1), first(2), 'a reservation spreads two fresh names');
    assert.equal(first(3), 'r1#a', 'avoid leaves the relay out');
  });

  it('answers as the Hono route behind a token, and with --public-placement', async () => {
    const closed = await compare({ token: TOKEN, publicPlacement: false });
    assert.equal(closed[0]?.status, 401);
    assert.equal(closed[0]?.authenticate, 'Bearer');
    assert.equal(closed.at(-3)?.status, 200, 'the right token is let in');
    const open = await compare({ token: TOKEN, publicPlacement: true });
    assert.equal(open[0]?.status, 200);
  });

  it('answers 503 as the Hono route when the registry fails', async () => {
    const registry = await world();
    // Name reads fail (Redis gone); the relay records are still there.
    const broken: Pick<Registry, 'lookup' | 'lookupMany' | 'names' | 'relays' | 'onTakeover'> = {
      lookup: (name) => registry.lookup(name),
      lookupMany: async () => {
        throw new Error('ECONNREFUSED');
      },
      names: (q) => registry.names(q),
      relays: () => registry.relays(),
      onTakeover: (l) => registry.onTakeover(l),
    };
    const coordinator = await startCoordinator(
      { host: '127.0.0.1', port: 0, ttlMs: TTL, version: '0', publicPlacement: false },
      { registry: broken, log, now: () => NOW },
    );
    const app = createApi(
      { ttlMs: TTL, version: '0', publicPlacement: false },
      { registry: broken, now: () => NOW, log },
    );
    try {
      const fast = await overHttp(coordinator.address().port, 'GET', '/v1/placement?name=dev1');
      assert.deepEqual(fast, await throughHono(app, 'GET', '/v1/placement?name=dev1'));
      assert.equal(fast.status, 503);
      assert.deepEqual(fast.body, {
        error: { code: 'REGISTRY_UNAVAILABLE', message: 'the registry is unreachable' },
      });
    } finally {
      await coordinator.close();
    }
  });
});
