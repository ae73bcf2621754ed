import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RelayRecord } from '../registry/index.js';
import { diffRelays, EventRing, type FleetEvent, movedEvent, type Seen } from './events.js';

const NOW = 1_000_000;
const TTL = 15_000;

/** A relay record in `state` at NOW. */
function relay(id: string, state: 'up' | 'draining' | 'lost' = 'up'): RelayRecord {
  return {
    relayId: id,
    address: `${id}.example:2222`,
    names: 0,
    connections: 0,
    capacity: 0,
    draining: state === 'draining',
    version: '1.0.0',
    startedAt: NOW - 60_000,
    expiresAt: state === 'lost' ? NOW + 1000 : NOW + TTL - 1000,
  };
}

function seen(entries: [string, 'up' | 'draining' | 'lost'][]): Seen {
  return new Map(entries.map(([id, state]) => [id, { state, address: `${id}.example:2222` }]));
}

describe('diffRelays', () => {
  const cases: [
    what: string,
    before: Seen | undefined,
    now: RelayRecord[],
    want: [string, string][],
  ][] = [
    ['first poll: no events', undefined, [relay('a'), relay('b', 'lost')], []],
    ['nothing changed', seen([['a', 'up']]), [relay('a')], []],
    ['a new relay joined', seen([['a', 'up']]), [relay('a'), relay('b')], [['joined', 'b']]],
    ['up → draining', seen([['a', 'up']]), [relay('a', 'draining')], [['draining', 'a']]],
    ['up → lost', seen([['a', 'up']]), [relay('a', 'lost')], [['lost', 'a']]],
    ['draining → lost', seen([['a', 'draining']]), [relay('a', 'lost')], [['lost', 'a']]],
    ['lost → up', seen([['a', 'lost']]), [relay('a')], [['back', 'a']]],
    ['draining → up', seen([['a', 'draining']]), [relay('a')], [['back', 'a']]],
    ['lost → draining', seen([['a', 'lost']]), [relay('a', 'draining')], [['back', 'a']]],
    ['lost → gone', seen([['a', 'lost']]), [], [['gone', 'a']]],
    ['draining → gone', seen([['a', 'draining']]), [], [['gone', 'a']]],
    ['up → gone between two polls: lost', seen([['a', 'up']]), [], [['lost', 'a']]],
    [
      'several at once, relays first in list order, then the vanished',
      seen([
        ['a', 'up'],
        ['b', 'up'],
      ]),
      [relay('c'), relay('b', 'draining')],
      [
        ['joined', 'c'],
        ['draining', 'b'],
        ['lost', 'a'],
      ],
    ],
  ];
  for (const [what, before, relays, want] of cases) {
    it(what, () => {
      const diff = diffRelays(before, relays, NOW, TTL);
      assert.deepEqual(
        diff.events.map((e) => [e.kind, 'relayId' in e ? e.relayId : '']),
        want,
      );
      for (const e of diff.events) {
        assert.equal(e.at, NOW);
        if ('address' in e) assert.equal(e.address, `${e.relayId}.example:2222`);
      }
      assert.deepEqual(
        [...diff.seen.keys()],
        relays.map((r) => r.relayId),
      );
    });
  }
});

describe('movedEvent', () => {
  it('keeps the name and both relays, cut to 253 characters', () => {
    const e = movedEvent({ name: 'dev1', owner: 'SHA256:x', from: 'a', to: 'b'.repeat(300) }, NOW);
    assert.deepEqual(e, { at: NOW, kind: 'moved', name: 'dev1', from: 'a', to: 'b'.repeat(253) });
  });
});

describe('EventRing', () => {
  const ev = (i: number): FleetEvent => ({ at: i, kind: 'joined', relayId: `r${i}`, address: '' });
  it('keeps the last `capacity` events and lists them newest first', () => {
    const ring = new EventRing(3);
    assert.deepEqual(ring.recent(10), []);
    ring.push(ev(1), ev(2));
    ring.push(ev(3), ev(4), ev(5));
    assert.deepEqual(
      ring.recent(10).map((e) => e.at),
      [5, 4, 3],
    );
    assert.deepEqual(
      ring.recent(2).map((e) => e.at),
      [5, 4],
    );
  });
});
