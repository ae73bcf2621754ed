/**
 * Properties of the coordinator's REST API (src/coordinator/query.ts and api.ts): every query a
 * client can send is validated, and answered with a bounded 2xx or a typed 4xx, never a 500.
 * The API has no POST endpoint; its GET paths and query strings are what a client controls.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { pino } from 'pino';
import { createApi } from '../../src/coordinator/api.js';
import { Reservations } from '../../src/coordinator/placement.js';
import {
  ApiError,
  MAX_PAGE_LIMIT,
  parseName,
  parseNamesQuery,
} from '../../src/coordinator/query.js';
import { MemoryRegistry } from '../../src/registry/memory.js';
import { anyText, deviceName, soup } from './arbitraries.js';
import { type FuzzProperty, MAX_MESSAGE, thrown } from './property.js';

const SUBJECT = 'coordinator/query.ts, coordinator/api.ts';

const WORDS = [
  'a',
  'dev',
  '1',
  '.',
  '-',
  '_',
  '0',
  '1000',
  '1001',
  '-1',
  '1e3',
  ' ',
  '%',
  '%00',
  '%2F',
  '/',
  '&',
  '=',
  '?',
  '#',
  'İ',
  '\u0000',
];
const field = fc.option(fc.oneof(soup(WORDS, 8), anyText), { nil: undefined });

function checkBad(err: unknown): void {
  if (err === undefined) return;
  assert.ok(err instanceof ApiError && err.code === 'BAD_REQUEST', String(err));
  assert.ok(err.message.length <= MAX_MESSAGE, err.message);
}

/** An API over a memory registry holding a few names and one relay. */
async function sampleApi(token: string | undefined) {
  const registry = new MemoryRegistry();
  for (const name of ['dev1', 'dev2', 'db.eu']) {
    await registry.claim({ name, port: 22, owner: 'SHA256:x', relayId: 'r1', ttlMs: 600_000 });
  }
  await registry.heartbeat(
    {
      relayId: 'r1',
      address: '127.0.0.1:2222',
      names: 3,
      connections: 3,
      capacity: 0,
      draining: false,
      version: '0',
      startedAt: 0,
    },
    [],
    600_000,
  );
  const log = pino({ level: 'silent' });
  return createApi(
    { token, publicPlacement: false, ttlMs: 600_000, version: '0' },
    { registry, reservations: new Reservations(), now: Date.now, log },
  );
}

/** Path segments and query values as a hostile client might send them, percent-encoded or raw. */
const segment = fc.oneof(deviceName, soup(WORDS, 6), anyText.map(encodeURIComponentLoose));
function encodeURIComponentLoose(s: string): string {
  return [...s]
    .map((c) =>
      /[\w.~-]/.test(c) ? c : encodeURIComponent(Buffer.from(c).toString() === c ? c : '\uFFFD'),
    )
    .join('');
}
const path = fc.oneof(
  fc.constantFrom(
    '/v1/names',
    '/v1/relays',
    '/v1/status',
    '/v1/placement',
    '/healthz',
    '/readyz',
    '/v1/names/',
  ),
  segment.map((s) => `/v1/names/${s}`),
  fc.array(segment, { maxLength: 4 }).map((parts) => `/${parts.join('/')}`),
);
const query = fc.array(
  fc.tuple(fc.constantFrom('name', 'prefix', 'limit', 'cursor', 'x', 'name[]'), soup(WORDS, 6)),
  { maxLength: 4 },
);

export const coordinatorProperties: FuzzProperty[] = [
  {
    subject: SUBJECT,
    name: 'parseName and parseNamesQuery return bounded values or throw BAD_REQUEST, nothing else',
    runs: 500,
    property: () =>
      fc.property(field, field, field, field, (name, prefix, limit, cursor) => {
        checkBad(thrown(() => parseName(name)));
        let q: ReturnType<typeof parseNamesQuery> | undefined;
        checkBad(thrown(() => (q = parseNamesQuery({ prefix, limit, cursor }))));
        if (q === undefined) return;
        assert.ok(Number.isInteger(q.limit) && q.limit >= 1 && q.limit <= MAX_PAGE_LIMIT);
        assert.ok(q.prefix.length <= 253 && (q.cursor ?? '').length <= 253);
      }),
  },
  {
    subject: SUBJECT,
    name: 'any GET path and query gets 200, 400, 401 or 404 with a bounded JSON body, never a 500',
    runs: 150,
    property: () =>
      fc.asyncProperty(
        path,
        query,
        fc.boolean(),
        fc.oneof(fc.constant(undefined), soup(['Bearer ', 't0k', ' ', 'x'], 4)),
        async (p, q, withToken, auth) => {
          const api = await sampleApi(withToken ? 't0k' : undefined);
          const search = q.map(([k, v]) => `${k}=${encodeURIComponentLoose(v)}`).join('&');
          const headers: Record<string, string> = {};
          if (auth !== undefined && /^[\t\x20-\x7e]*$/.test(auth)) headers.authorization = auth;
          const res = await api.request(`${p}${search ? `?${search}` : ''}`, { headers });
          const body = await res.text();
          assert.ok([200, 400, 401, 404].includes(res.status), `${res.status} ${body}`);
          const json = JSON.parse(body) as { error?: { code: string; message: string } };
          if (res.status !== 200) {
            assert.equal(typeof json.error?.code, 'string');
            assert.ok((json.error?.message.length ?? 0) <= MAX_MESSAGE, body);
          }
          assert.ok(body.length < 200_000);
        },
      ),
  },
];
