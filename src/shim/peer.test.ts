import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ackEvery } from './peer.js';

describe('ackEvery', () => {
  // A quarter of the peer's buffer, at most a MiB: a small buffer is acknowledged often enough that
  // the sender never waits on the ack delay for room.
  const cases: [number, number][] = [
    [16 * 2 ** 20, 2 ** 20],
    [4 * 2 ** 20, 2 ** 20],
    [2 * 2 ** 20, 512 * 1024],
    [256 * 1024, 64 * 1024],
    [3, 1],
    [1, 1],
  ];
  for (const [capacity, want] of cases) {
    it(`acknowledges every ${want} bytes for a buffer of ${capacity}`, () =>
      assert.equal(ackEvery(capacity), want));
  }
});
