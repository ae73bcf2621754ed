import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { pino } from 'pino';
import type { Route } from '../core/names.js';
import type { NameRecord, Registry, RelayRecord } from '../registry/registry.js';
import { generateEd25519 } from '../ssh/keys.js';
import { PeerSet } from './peers.js';
import { ClusterRouter, LOOKUP_BUDGET_MS } from './router.js';

/** A loopback port nothing listens on: a dial there fails at once (ECONNREFUSED). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** dev1, held by relay B. */
const holderRecord: NameRecord = {
  name: 'dev1',
  owner: 'SHA256:x',
  relayId: 'B',
  ports: [22],
  since: 0,
  expiresAt: Number.MAX_SAFE_INTEGER,
};

/** Relay A's router over `registry`, on the clock `now` (TTL 3 s, "down" for 1 s after a failure). */
function routerOf(registry: Registry, now: () => number): ClusterRouter {
  return new ClusterRouter(
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
    { registry, log: pino({ level: 'silent' }), now },
  );
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
  const record = holderRecord;
  const relay = { relayId: 'B', address } as RelayRecord;
  const registry = {
    lookup: () => ask(record),
    relays: () => ask([relay]),
  } as unknown as Registry;
  const router = routerOf(registry, () => h.t);
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
    const unavailable = { refused: 'registry-unavailable', firstOfBurst: false };
    assert.deepEqual((await open()).result, { ...unavailable, firstOfBurst: true });
    h.mode = 'answer';
    await open();
    h.mode = 'down';
    h.t -= 60_000; // the clock jumped back a minute
    assert.deepEqual((await open()).result, { ...unavailable, firstOfBurst: true });
  } finally {
    close();
  }
});

/**
 * A router on fake timers (node:test's mock timers) whose registry never answers (`never`: a
 * Redis failing over, before the link's command timeout), rejects at once (`reject`: a Redis
 * that is down), or answers `record` (`answer`). `lookups` counts the registry's lookups;
 * `late` resolves the lookups still waiting with `record`.
 */
function fakeTimeHarness(t: { mock: { timers: typeof import('node:test').mock.timers } }) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const relay = { relayId: 'B', address: '127.0.0.1:9' } as RelayRecord;
  const h = {
    t: 10_000,
    mode: 'never' as 'answer' | 'never' | 'reject',
    record: undefined as NameRecord | undefined,
    lookups: 0,
    /** What the registry says of its silence (Registry.silentMs). */
    silentMs: Number.POSITIVE_INFINITY,
  };
  const waiting: (() => void)[] = [];
  const ask = <T>(value: () => T): Promise<T> => {
    if (h.mode === 'answer') return Promise.resolve(value());
    if (h.mode === 'reject') return Promise.reject(new Error('registry down'));
    return new Promise((resolve) => waiting.push(() => resolve(value())));
  };
  const registry = {
    lookup: () => {
      h.lookups += 1;
      return ask(() => h.record);
    },
    relays: () => ask(() => [relay]),
    silentMs: () => h.silentMs,
  } as unknown as Registry;
  const router = routerOf(registry, () => h.t);
  /** Starts an open; `done()` says (after the pending promise jobs ran) whether it has answered. */
  const open = () => {
    let answer: { value: Awaited<ReturnType<ClusterRouter['open']>> } | undefined;
    const p = router
      .open({ name: 'dev1', port: 22 } as Route, { originAddr: '127.0.0.1', originPort: 1 })
      .then((value) => {
        answer = { value };
        return value;
      });
    return {
      p,
      async done() {
        await new Promise((r) => setImmediate(r));
        return answer;
      },
    };
  };
  const late = async () => {
    h.mode = 'answer';
    for (const resolve of waiting.splice(0)) resolve();
    // The relays() read that follows a found record is answered too.
    await new Promise((r) => setImmediate(r));
  };
  return { h, open, late, close: () => router.close() };
}

test('a registry that never answers: a name with no known holder is refused once the lookup budget passes, not before', async (t) => {
  const { h, open, close } = fakeTimeHarness(t);
  try {
    const first = open();
    t.mock.timers.tick(LOOKUP_BUDGET_MS - 1);
    assert.equal(await first.done(), undefined, 'answered before the budget passed');
    t.mock.timers.tick(1);
    assert.deepEqual(await first.done(), {
      value: { refused: 'registry-unavailable', firstOfBurst: true },
    });
    // Not known to be down (nothing failed yet: it only never answered): the next one waits
    // the budget again, and is part of the same burst (audited once).
    h.t += 9_000;
    const second = open();
    assert.equal(await second.done(), undefined);
    t.mock.timers.tick(LOOKUP_BUDGET_MS);
    assert.deepEqual((await second.done())?.value, {
      refused: 'registry-unavailable',
      firstOfBurst: false,
    });
    // 10 s without such a refusal: a new burst.
    h.t += 10_000;
    const third = open();
    t.mock.timers.tick(LOOKUP_BUDGET_MS);
    assert.deepEqual((await third.done())?.value, {
      refused: 'registry-unavailable',
      firstOfBurst: true,
    });
    assert.equal(h.lookups, 3);
  } finally {
    close();
  }
});

test('a registry known to be down: refused at once with no wait, while lookups go on and notice its return', async (t) => {
  const { h, open, close } = fakeTimeHarness(t);
  try {
    h.mode = 'reject';
    const failed = await open().done();
    assert.deepEqual(failed?.value, { refused: 'registry-unavailable', firstOfBurst: true });
    // Known down, and now not answering at all: refused without any time passing.
    h.mode = 'never';
    const down = await open().done();
    assert.deepEqual(down?.value, { refused: 'registry-unavailable', firstOfBurst: false });
    assert.equal(h.lookups, 2, 'the registry is still asked, in the background');
    // It answers again (the name is held by nobody). Within a second of the last failure it is
    // still taken for down (refused at once); the lookup made meanwhile notices it is back.
    h.mode = 'answer';
    h.t += 999;
    const stale = await open().done();
    assert.deepEqual(stale?.value, { refused: 'registry-unavailable', firstOfBurst: false });
    const back = await open().done();
    assert.deepEqual(back, { value: undefined });
    // A failure more than a second old no longer counts: a registry that came back while
    // nobody asked is waited for (within the budget) and answers.
    h.mode = 'reject';
    await open().done();
    h.mode = 'answer';
    h.t += 1000;
    const later = await open().done();
    assert.deepEqual(later, { value: undefined });
    // "Held by nobody" a moment ago is not an answer when the registry fails: the name may
    // have been registered on another relay since.
    h.mode = 'reject';
    const nobody = await open().done();
    assert.deepEqual(nobody?.value, { refused: 'registry-unavailable', firstOfBurst: false });
  } finally {
    close();
  }
});

test('a lookup answered after the budget still refreshes what is known', async (t) => {
  const { h, open, late, close } = fakeTimeHarness(t);
  try {
    h.record = holderRecord;
    const first = open();
    t.mock.timers.tick(LOOKUP_BUDGET_MS);
    assert.deepEqual((await first.done())?.value, {
      refused: 'registry-unavailable',
      firstOfBurst: true,
    });
    await late(); // the registry answers: dev1 is on B
    h.mode = 'reject';
    h.t += 1000;
    // The registry fails now, but B is known (1 s ago, within the TTL): B is tried (and cannot
    // be reached: nothing listens on port 9).
    const second = open();
    const answer = await second.p;
    assert.deepEqual(answer, { refused: 'peer-unreachable', relay: 'B' });
  } finally {
    close();
  }
});

test('a slow registry that still answers other commands is waited for past the budget', async (t) => {
  const { h, open, late, close } = fakeTimeHarness(t);
  try {
    h.silentMs = 300; // its last answer (to anything) came 300 ms ago
    const slow = open();
    t.mock.timers.tick(LOOKUP_BUDGET_MS);
    t.mock.timers.tick(LOOKUP_BUDGET_MS);
    assert.equal(await slow.done(), undefined, 'given up on a registry that answers');
    await late(); // dev1 is held by nobody
    assert.deepEqual(await slow.done(), { value: undefined });
    // The same wait, but it stops answering anything: refused at the next budget's end.
    h.mode = 'never';
    const stalled = open();
    t.mock.timers.tick(LOOKUP_BUDGET_MS);
    assert.equal(await stalled.done(), undefined);
    h.silentMs = LOOKUP_BUDGET_MS;
    t.mock.timers.tick(LOOKUP_BUDGET_MS);
    assert.deepEqual((await stalled.done())?.value, {
      refused: 'registry-unavailable',
      firstOfBurst: true,
    });
  } finally {
    close();
  }
});
