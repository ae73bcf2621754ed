import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay, DEFAULT_BACKOFF, ReconnectSchedule, relayOrder } from './backoff.js';

const policy = { baseMs: 500, capMs: 30_000 };
const top = () => 0.999_999;

describe('backoffDelay', () => {
  const cases: [failures: number, random: () => number, want: number][] = [
    [0, top, 0],
    [1, top, 0],
    [2, top, 499],
    [3, top, 999],
    [4, top, 1999],
    [7, top, 15_999],
    [8, top, 29_999],
    [9, top, 29_999],
    [1000, top, 29_999],
    [5, () => 0, 0],
    [5, () => 0.5, 2000],
  ];
  for (const [failures, random, want] of cases) {
    it(`after ${failures} failures with random ${random()} waits ${want} ms`, () => {
      assert.equal(backoffDelay(failures, policy, random), want);
    });
  }

  it('never exceeds the cap and is never negative, for any failure count', () => {
    for (let k = 0; k < 2000; k++) {
      const d = backoffDelay(k, DEFAULT_BACKOFF, Math.random);
      assert.ok(d >= 0 && d < DEFAULT_BACKOFF.capMs, `${k}: ${d}`);
    }
  });
});

describe('ReconnectSchedule', () => {
  it('rotates through relays, retries the first failure at once, resets on success', () => {
    const s = new ReconnectSchedule(['r1', 'r2', 'r3'], policy, top);
    assert.equal(s.current, 'r1');
    assert.deepEqual(s.failed(), { relay: 'r2', delayMs: 0 });
    assert.deepEqual(s.failed(), { relay: 'r3', delayMs: 499 });
    assert.deepEqual(s.failed(), { relay: 'r1', delayMs: 999 });
    assert.equal(s.consecutiveFailures, 3);
    s.succeeded();
    assert.equal(s.current, 'r1');
    assert.deepEqual(s.failed(), { relay: 'r2', delayMs: 0 });
  });

  it('with one relay keeps retrying it, forever', () => {
    const s = new ReconnectSchedule(['only'], policy, top);
    let last = { relay: '', delayMs: -1 };
    for (let i = 0; i < 10_000; i++) last = s.failed();
    assert.deepEqual(last, { relay: 'only', delayMs: 29_999 });
  });

  it('starts at any relay, wrapping the index', () => {
    assert.equal(new ReconnectSchedule(['a', 'b', 'c'], policy, top, 4).current, 'b');
    assert.equal(new ReconnectSchedule(['a', 'b', 'c'], policy, top, -1).current, 'c');
  });

  it('refuses an empty relay list', () => {
    assert.throws(() => new ReconnectSchedule([]), /at least one relay/);
  });

  it('spreads many agents that fail together (no lock-step)', () => {
    // 1000 agents lose their relay at once and keep failing: by the 6th attempt their waits
    // cover the 8 s window roughly evenly. With no jitter all 1000 would share one value.
    const waits = Array.from({ length: 1000 }, () => {
      const s = new ReconnectSchedule(['r1', 'r2'], policy, Math.random);
      let d = 0;
      for (let i = 0; i < 6; i++) d = s.failed().delayMs;
      return d;
    });
    const buckets = new Array(8).fill(0);
    for (const w of waits) buckets[Math.floor(w / 1000)] += 1;
    // Each 1-second bucket should hold ~125; a bound of 60..190 fails only when something
    // systematic is wrong (probability of a false failure < 1e-9).
    for (const [i, n] of buckets.entries()) assert.ok(n > 60 && n < 190, `bucket ${i}: ${n}`);
    assert.ok(new Set(waits).size > 500);
  });
});

describe('relayOrder', () => {
  it('is a permutation of the relays, fixed by the random source', () => {
    const relays = ['a', 'b', 'c', 'd'];
    const order = relayOrder(relays, () => 0);
    assert.deepEqual([...order].sort(), relays);
    assert.deepEqual(
      relayOrder(relays, () => 0),
      order,
      'same random, same order',
    );
    assert.deepEqual(relays, ['a', 'b', 'c', 'd'], 'input untouched');
  });

  it('spreads the agents of a dead relay over the others', () => {
    // 3000 agents, each with its own order: where do the agents whose first relay is r1 go next?
    const next = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const order = relayOrder(['r1', 'r2', 'r3', 'r4'], Math.random);
      if (order[0] !== 'r1') continue;
      const s = new ReconnectSchedule(order, policy, Math.random);
      const to = s.failed().relay;
      next.set(to, (next.get(to) ?? 0) + 1);
    }
    // ~750 agents start on r1 and ~250 go to each other relay; a fixed rotation would send all
    // of them to one. Bounds far outside chance (p < 1e-9).
    assert.deepEqual([...next.keys()].sort(), ['r2', 'r3', 'r4']);
    for (const [relay, n] of next) assert.ok(n > 150 && n < 380, `${relay}: ${n}`);
  });
});
