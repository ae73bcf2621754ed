import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RelayRecord } from '../registry/index.js';
import {
  heartbeatAgeMs,
  place,
  RESERVATION_MS,
  Reservations,
  rankRelays,
  relayState,
} from './placement.js';

const NOW = 1_000_000;
const TTL = 15_000;

/** A relay that sent its heartbeat 1 s ago, empty, no declared capacity. */
function relay(id: string, over: Partial<RelayRecord> = {}): RelayRecord {
  return {
    relayId: id,
    address: `${id}.example:2222`,
    names: 0,
    connections: 0,
    capacity: 0,
    draining: false,
    version: '1.0.0',
    startedAt: NOW - 60_000,
    expiresAt: NOW + TTL - 1000,
    ...over,
  };
}

describe('relayState and heartbeatAgeMs', () => {
  const cases: [what: string, r: RelayRecord, state: string, age: number][] = [
    ['fresh', relay('a'), 'up', 1000],
    ['fresh and draining', relay('a', { draining: true }), 'draining', 1000],
    ['10 s since the heartbeat', relay('a', { expiresAt: NOW + 5000 }), 'up', 10_000],
    ['10.001 s since the heartbeat', relay('a', { expiresAt: NOW + 4999 }), 'lost', 10_001],
    ['lost while draining', relay('a', { draining: true, expiresAt: NOW + 10 }), 'lost', 14_990],
    ['expired', relay('a', { expiresAt: NOW }), 'lost', TTL],
    ['clock skew: longer than the TTL left', relay('a', { expiresAt: NOW + 2 * TTL }), 'up', 0],
  ];
  for (const [what, r, state, age] of cases) {
    it(`${what}: ${state}, heartbeat ${age} ms ago`, () => {
      assert.equal(relayState(r, NOW, TTL), state);
      assert.equal(heartbeatAgeMs(r, NOW, TTL), age);
    });
  }
});

describe('rankRelays', () => {
  const none = () => 0;
  const cases: [what: string, relays: RelayRecord[], heldBy: string | undefined, want: string[]][] =
    [
      ['no relays', [], undefined, []],
      [
        'least loaded by connections / capacity',
        [
          relay('a', { connections: 50, capacity: 100 }),
          relay('b', { connections: 10, capacity: 100 }),
          relay('c', { connections: 30, capacity: 40 }),
        ],
        undefined,
        ['b', 'a', 'c'],
      ],
      [
        'a relay at capacity is left out',
        [relay('a', { connections: 100, capacity: 100 }), relay('b', { capacity: 10 })],
        undefined,
        ['b'],
      ],
      [
        'draining and lost relays are left out',
        [relay('a', { draining: true }), relay('b', { expiresAt: NOW }), relay('c')],
        undefined,
        ['c'],
      ],
      [
        'capacity 0 anywhere: all ranked by names, and never full',
        [relay('a', { names: 5, capacity: 10, connections: 9 }), relay('b', { names: 2 })],
        undefined,
        ['b', 'a'],
      ],
      ['ties go to the lower id', [relay('b'), relay('a'), relay('c')], undefined, ['a', 'b', 'c']],
      [
        'the holder first, even when the most loaded and full',
        [
          relay('a', { connections: 100, capacity: 100 }),
          relay('b', { connections: 1, capacity: 100 }),
        ],
        'a',
        ['a', 'b'],
      ],
      [
        'a draining holder is not first: the device should move',
        [relay('a', { draining: true }), relay('b')],
        'a',
        ['b'],
      ],
      ['a holder the registry no longer lists is ignored', [relay('b')], 'gone', ['b']],
    ];
  for (const [what, relays, heldBy, want] of cases) {
    it(what, () => {
      const got = rankRelays({ relays, heldBy, now: NOW, ttlMs: TTL, reserved: none });
      assert.deepEqual(
        got.map((c) => c.id),
        want,
      );
      for (const c of got) assert.equal(c.address, `${c.id}.example:2222`);
    });
  }

  it('a relay the device asks to avoid is left out, even when it holds the name', () => {
    const relays = [relay('a'), relay('b', { names: 3 }), relay('c', { names: 1 })];
    const got = rankRelays({
      relays,
      heldBy: 'a',
      avoid: 'a.example:2222',
      now: NOW,
      ttlMs: TTL,
      reserved: none,
    });
    assert.deepEqual(
      got.map((c) => c.id),
      ['c', 'b'],
    );
  });

  it('reservations count as load', () => {
    const relays = [relay('a', { names: 1 }), relay('b', { names: 0 })];
    const reserved = (id: string) => (id === 'b' ? 2 : 0);
    const got = rankRelays({ relays, now: NOW, ttlMs: TTL, reserved });
    assert.deepEqual(
      got.map((c) => c.id),
      ['a', 'b'],
    );
  });
});

describe('place with reservations', () => {
  it('a burst spreads over equal relays, and reservations lapse after 2.5 s', () => {
    const res = new Reservations();
    const relays = [relay('a'), relay('b'), relay('c')];
    const firsts = [0, 1, 2, 3, 4, 5].map(
      () => place(res, { relays, now: NOW, ttlMs: TTL })[0]?.id,
    );
    assert.deepEqual(firsts, ['a', 'b', 'c', 'a', 'b', 'c']);
    assert.equal(res.count('a', NOW + RESERVATION_MS - 1), 2);
    assert.equal(res.count('a', NOW + RESERVATION_MS), 0);
    assert.equal(place(res, { relays, now: NOW + RESERVATION_MS, ttlMs: TTL })[0]?.id, 'a');
  });

  it('placing a held name where it is reserves nothing', () => {
    const res = new Reservations();
    const relays = [relay('a'), relay('b')];
    for (let i = 0; i < 3; i++) {
      assert.equal(place(res, { relays, heldBy: 'b', now: NOW, ttlMs: TTL })[0]?.id, 'b');
    }
    assert.equal(res.count('b', NOW), 0);
    assert.equal(res.count('a', NOW), 0);
  });
});
