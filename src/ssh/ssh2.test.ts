import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import ssh2, { pooledRandomFill } from './ssh2.js';

describe('ssh2 loader', () => {
  it('restores crypto.randomFillSync for everyone else', () => {
    const cjs = createRequire(import.meta.url)('node:crypto') as { randomFillSync: unknown };
    assert.equal(cjs.randomFillSync, randomFillSync);
    assert.notEqual(cjs.randomFillSync, pooledRandomFill);
    assert.equal(typeof ssh2.Server, 'function');
  });
});

describe('pooledRandomFill', () => {
  it('fills exactly the requested range and returns the buffer', () => {
    const buf = Buffer.alloc(64, 0xaa);
    assert.equal(pooledRandomFill(buf, 10, 16), buf);
    assert.ok(buf.subarray(0, 10).every((b) => b === 0xaa));
    assert.ok(buf.subarray(26).every((b) => b === 0xaa));
    assert.ok(!buf.subarray(10, 26).every((b) => b === 0xaa), 'range left unfilled');
  });

  it('never hands out the same bytes twice, across pool refills', () => {
    const seen = new Set<string>();
    // 70 000 draws of 16 bytes cross the 64 KiB pool boundary many times.
    for (let i = 0; i < 70_000; i++) {
      const hex = pooledRandomFill(Buffer.alloc(16)).toString('hex');
      assert.ok(!seen.has(hex), `repeated bytes at draw ${i}`);
      seen.add(hex);
    }
  });

  it('passes large or unusual requests to the real function', () => {
    const big = pooledRandomFill(Buffer.alloc(4096));
    assert.ok(big.some((b) => b !== 0));
    const typed = pooledRandomFill(new Uint32Array(8));
    assert.ok(typed.some((v) => v !== 0));
    assert.throws(() => pooledRandomFill(Buffer.alloc(8), 4, 16), RangeError);
  });
});
