import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prng } from '../../test/helpers/prng.js';
import { ReadRing } from './ring.js';

describe('ReadRing', () => {
  it('hands out the whole memory, up to max, when nothing is in use', () => {
    const ring = new ReadRing(100, 10);
    assert.equal(ring.region(30).length, 30);
    assert.equal(ring.region(1000).length, 100);
  });

  it('fills, then is full, then has room again once the oldest bytes are released', () => {
    const ring = new ReadRing(100, 10);
    ring.region(60);
    assert.equal(ring.filled(3).length, 3);
    ring.region(97);
    ring.filled(97);
    assert.equal(ring.inUse, 100);
    assert.equal(ring.region(50).length, 0, 'full');
    ring.release(5);
    assert.equal(ring.region(50).length, 0, 'only 5 free: less than the minimum region');
    ring.release(10);
    const r = ring.region(50);
    assert.equal(r.length, 15, 'the 15 released bytes at the start, after wrapping');
  });

  it('skips an end too short for a read, and releases the skipped bytes with the rest', () => {
    const ring = new ReadRing(100, 10);
    const start = ring.region(95);
    ring.filled(95);
    ring.release(40);
    // 5 bytes left at the end: skipped; the region starts at 0 and runs to the oldest byte.
    const r = ring.region(100);
    assert.equal(r.length, 40);
    assert.equal(r.byteOffset, start.byteOffset);
    assert.equal(ring.inUse, 55 + 5);
    ring.filled(40);
    ring.release(55); // the rest of the first fill; the skipped end goes with it
    assert.equal(ring.inUse, 40);
    ring.release(40);
    assert.equal(ring.inUse, 0);
    assert.equal(ring.region(1000).length, 100, 'empty: the whole memory again');
  });

  it('refuses to fill more than was offered, or to release more than is in use', () => {
    const ring = new ReadRing(100, 10);
    ring.region(20);
    assert.throws(() => ring.filled(21), RangeError);
    ring.filled(20);
    assert.throws(() => ring.filled(1), RangeError, 'no region outstanding');
    assert.throws(() => ring.release(21), RangeError);
    assert.throws(() => new ReadRing(5, 10), RangeError);
  });

  it('tells its own memory from other buffers', () => {
    const ring = new ReadRing(100, 10);
    assert.ok(ring.owns(ring.region(10)));
    assert.ok(!ring.owns(Buffer.alloc(10)));
  });

  it('never hands out a byte still in use: 20 000 random steps against a model, 4 sizes', () => {
    for (const [capacity, min, max, seed] of [
      [100, 10, 30, 1],
      [1000, 64, 1000, 2],
      [256, 1, 7, 3],
      [4096, 512, 1024, 4],
    ] as const) {
      const rand = prng(seed);
      const ring = new ReadRing(capacity, min);
      /** Filled and not yet released, oldest first: the view and the bytes written into it. */
      const live: { view: Buffer; bytes: Buffer }[] = [];
      let mark = 0;
      let liveBytes = 0;
      let filledTotal = 0;
      for (let step = 0; step < 20_000; step++) {
        if (rand() < 0.55) {
          const region = ring.region(max);
          if (region.length === 0) {
            assert.ok(liveBytes > capacity - 2 * min, `no room with only ${liveBytes} in use`);
            continue;
          }
          assert.ok(region.length >= min && region.length <= max);
          const n = Math.floor(rand() * (region.length + 1));
          const bytes = Buffer.alloc(n, ++mark & 0xff);
          bytes.copy(region);
          const view = ring.filled(n);
          assert.equal(view.byteOffset, region.byteOffset, 'the bytes are where they were read');
          live.push({ view, bytes });
          liveBytes += n;
          filledTotal += n;
        } else if (liveBytes > 0) {
          let n = Math.floor(rand() * (liveBytes + 1));
          liveBytes -= n;
          ring.release(n);
          while (n > 0) {
            const first = live[0]!;
            // Released bytes were never overwritten while in use.
            const k = Math.min(n, first.view.length);
            assert.deepEqual(first.view.subarray(0, k), first.bytes.subarray(0, k));
            if (k === first.view.length) live.shift();
            else live[0] = { view: first.view.subarray(k), bytes: first.bytes.subarray(k) };
            n -= k;
          }
        }
        for (const { view, bytes } of live) assert.ok(view.equals(bytes), `step ${step}`);
        assert.ok(ring.inUse <= capacity);
      }
      assert.ok(filledTotal > 20 * capacity, 'the ring went round many times');
    }
  });
});
