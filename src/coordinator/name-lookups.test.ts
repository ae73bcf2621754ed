import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NameRecord } from '../registry/index.js';
import { NameLookups } from './name-lookups.js';

const record = (name: string, relayId: string): NameRecord => ({
  name,
  owner: 'SHA256:owner',
  relayId,
  ports: [22],
  since: 1,
  expiresAt: 2,
});

/**
 * A registry whose `lookupMany` calls are held until the test settles them, and a `defer` the
 * test runs by hand: the test decides when an event-loop turn ends and when Redis answers.
 */
function harness(maxBatch?: number) {
  const holders = new Map<string, string>();
  const calls: {
    names: readonly string[];
    answer(): void;
    fail(err: Error): void;
  }[] = [];
  const deferred: (() => void)[] = [];
  const lookups = new NameLookups(
    {
      lookupMany: (names) =>
        new Promise((resolve, reject) => {
          calls.push({
            names,
            // Reads the holders when Redis answers, as Redis would when the call reaches it.
            answer: () =>
              resolve(names.map((n) => (holders.has(n) ? record(n, holders.get(n)!) : undefined))),
            fail: reject,
          });
        }),
    },
    { defer: (fn) => deferred.push(fn), ...(maxBatch ? { maxBatch } : {}) },
  );
  const endTurn = () => {
    for (const fn of deferred.splice(0)) fn();
  };
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
  return { holders, calls, lookups, endTurn, settle };
}

describe('NameLookups', () => {
  it('reads the lookups of one turn in one registry call, each name once', async () => {
    const h = harness();
    h.holders.set('a', 'r1');
    h.holders.set('b', 'r2');
    const asked = ['a', 'b', 'a', 'nobody'].map((n) => h.lookups.lookup(n));
    assert.equal(h.calls.length, 0, 'nothing is sent before the turn ends');
    h.endTurn();
    assert.deepEqual(
      h.calls.map((c) => c.names),
      [['a', 'b', 'nobody']],
    );
    h.calls[0]!.answer();
    const got = await Promise.all(asked);
    assert.deepEqual(
      got.map((r) => r?.relayId),
      ['r1', 'r2', 'r1', undefined],
    );
  });

  it('keeps one call in flight; what is asked meanwhile goes out together when it settles', async () => {
    const h = harness();
    h.holders.set('a', 'r1');
    const first = h.lookups.lookup('a');
    h.endTurn();
    const later = ['b', 'c', 'a'].map((n) => h.lookups.lookup(n));
    h.endTurn();
    assert.equal(h.calls.length, 1, 'no second call while the first is in flight');
    h.calls[0]!.answer();
    await h.settle();
    assert.deepEqual(
      h.calls.map((c) => c.names),
      [['a'], ['b', 'c', 'a']],
    );
    h.calls[1]!.answer();
    assert.equal((await first)?.relayId, 'r1');
    assert.deepEqual(
      (await Promise.all(later)).map((r) => r?.relayId),
      [undefined, undefined, 'r1'],
    );
  });

  it('answers a name that moved where it is now, never from an earlier read', async () => {
    const h = harness();
    h.holders.set('dev', 'r1');
    const before = h.lookups.lookup('dev');
    h.endTurn();
    h.calls[0]!.answer();
    assert.equal((await before)?.relayId, 'r1');
    h.holders.set('dev', 'r2'); // the device moved to another relay
    const after = h.lookups.lookup('dev');
    await h.settle();
    h.endTurn();
    assert.equal(h.calls.length, 2, 'a new question is a new registry read');
    h.calls[1]!.answer();
    assert.equal((await after)?.relayId, 'r2');
  });

  it('a question asked while a read is in flight waits for a read of its own', async () => {
    const h = harness();
    h.holders.set('dev', 'r1');
    const early = h.lookups.lookup('dev');
    h.endTurn();
    const late = h.lookups.lookup('dev'); // the same name, asked after the first call was sent
    h.endTurn();
    assert.deepEqual(
      h.calls.map((c) => c.names),
      [['dev']],
    );
    h.calls[0]!.answer();
    assert.equal((await early)?.relayId, 'r1');
    h.holders.set('dev', 'r2'); // moved between the two reads
    await h.settle();
    assert.deepEqual(
      h.calls.map((c) => c.names),
      [['dev'], ['dev']],
    );
    h.calls[1]!.answer();
    assert.equal((await late)?.relayId, 'r2');
  });

  it('rejects every lookup of a failed call with its error; the next call goes out', async () => {
    const h = harness();
    h.holders.set('b', 'r2');
    const failed = ['a', 'a', 'c'].map((n) => h.lookups.lookup(n));
    h.endTurn();
    const next = h.lookups.lookup('b');
    h.calls[0]!.fail(new Error('registry EVALSHA: no answer within 3000 ms'));
    for (const p of failed) await assert.rejects(p, /no answer within 3000 ms/);
    await h.settle();
    assert.deepEqual(h.calls[1]?.names, ['b']);
    h.calls[1]!.answer();
    assert.equal((await next)?.relayId, 'r2');
  });

  it('splits a large batch into calls of at most maxBatch names, sent at once', async () => {
    const h = harness(2);
    const asked = ['a', 'b', 'c', 'd', 'e'].map((n) => h.lookups.lookup(n));
    h.endTurn();
    assert.deepEqual(
      h.calls.map((c) => c.names),
      [['a', 'b'], ['c', 'd'], ['e']],
    );
    h.calls[1]!.fail(new Error('boom'));
    h.calls[0]!.answer();
    h.calls[2]!.answer();
    const got = await Promise.allSettled(asked);
    assert.deepEqual(
      got.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled'],
    );
  });

  it('over a real event loop (setImmediate), concurrent lookups make one call', async () => {
    let calls = 0;
    const lookups = new NameLookups({
      lookupMany: async (names) => {
        calls++;
        return names.map((n) => record(n, 'r1'));
      },
    });
    const got = await Promise.all(Array.from({ length: 50 }, (_, i) => lookups.lookup(`n${i}`)));
    assert.equal(calls, 1);
    assert.deepEqual(
      got.map((r) => r?.name),
      Array.from({ length: 50 }, (_, i) => `n${i}`),
    );
  });
});
