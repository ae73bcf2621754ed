import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { pino } from 'pino';
import type { Route } from '../core/names.js';
import type { NameRecord, Registry, RelayRecord } from '../registry/registry.js';
import { generateEd25519 } from '../ssh/keys.js';
import { PeerSet } from './peers.js';
import { ClusterRouter } from './router.js';

/** A loopback port nothing listens on: a dial there fails at once (ECONNREFUSED). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/**
 * A router whose registry says dev1 is on relay B (at a closed port) while `mode` is 'answer';
 * 'slow' answers nothing and fails after 3 s (a Redis failing over, as the Redis link's command
 * timeout would); 'down' fails at once.
 */
async function harness() {
  const address = `127.0.0.1:${await closedPort()}`;
  const h = { t: 10_000, mode: 'answer' as 'answer' | 'slow' | 'down' };
  const ask = <T>(value: T): Promise<T> => {
    if (h.mode === 'answer') return Promise.resolve(value);
    if (h.mode === 'down') return Promise.reject(new Error('registry down'));
    return new Promise((_, reject) => setTimeout(() => reject(new Error('no answer')), 3000));
  };
  const record: NameRecord = {
    name: 'dev1',
    owner: 'SHA256:x',
    relayId: 'B',
    ports: [22],
    since: 0,
    expiresAt: Number.MAX_SAFE_INTEGER,
  };
  const relay = { relayId: 'B', address } as RelayRecord;
  const registry = {
    lookup: () => ask(record),
    relays: () => ask([relay]),
  } as unknown as Registry;
  const router = new ClusterRouter(
    {
      relayId: 'A',
      peers: new PeerSet([]),
      hostKey: generateEd25519('A').privateKey,
      registryTtlMs: 3000,
      keepaliveIntervalMs: 1000,
      keepaliveCountMax: 2,
      dialTimeoutMs: 2000,
      downForMs: 1000,
    },
    { registry, log: pino({ level: 'silent' }), now: () => h.t },
  );
  const route: Route = { name: 'dev1', port: 22 } as Route;
  const open = async () => {
    const started = Date.now();
    const result = await router.open(route, { originAddr: '127.0.0.1', originPort: 1 });
    return { result, ms: Date.now() - started };
  };
  return { h, open, close: () => router.close() };
}

test('a registry that stops answering is waited for at most the lookup budget when the holder is known', async () => {
  const { h, open, close } = await harness();
  try {
    assert.deepEqual((await open()).result, { refused: 'peer-unreachable', relay: 'B' });
    h.mode = 'slow';
    h.t += 500;
    const slow = await open();
    assert.deepEqual(slow.result, { refused: 'peer-unreachable', relay: 'B' });
    // Two lookups (the open and its one follow-up) of at most 1 s each, not 2 × 3 s.
    assert.ok(slow.ms < 2800, `answered in ${slow.ms} ms`);
    // Once the registry is known to be down, the known holder is used at once.
    await new Promise((r) => setTimeout(r, 3100));
    const down = await open();
    assert.deepEqual(down.result, { refused: 'peer-unreachable', relay: 'B' });
    assert.ok(down.ms < 500, `answered in ${down.ms} ms`);
  } finally {
    close();
  }
});

test('what was known is used for at most a TTL, and never when the clock went back', async () => {
  const { h, open, close } = await harness();
  try {
    await open();
    h.mode = 'down';
    h.t += 2000;
    assert.deepEqual((await open()).result, { refused: 'peer-unreachable', relay: 'B' });
    h.t += 2000; // 4 s after the answer: past the 3 s TTL
    assert.equal((await open()).result, undefined);
    h.mode = 'answer';
    await open();
    h.mode = 'down';
    h.t -= 60_000; // the clock jumped back a minute
    assert.equal((await open()).result, undefined);
  } finally {
    close();
  }
});
