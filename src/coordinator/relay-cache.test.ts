import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RelayRecord } from '../registry/index.js';
import { RelayCache } from './relay-cache.js';

function registry(results: (RelayRecord[] | Error)[]) {
  let reads = 0;
  return {
    get reads() {
      return reads;
    },
    relays: async () => {
      const r = results[Math.min(reads++, results.length - 1)]!;
      if (r instanceof Error) throw r;
      return r;
    },
  };
}

describe('RelayCache', () => {
  it('reads once per 250 ms, shared by concurrent callers', async () => {
    const reg = registry([[], []]);
    let now = 1000;
    const cache = new RelayCache(reg, () => now);
    await Promise.all([cache.get(), cache.get(), cache.get()]);
    assert.equal(reg.reads, 1);
    now = 1249;
    await cache.get();
    assert.equal(reg.reads, 1);
    now = 1250;
    await cache.get();
    assert.equal(reg.reads, 2);
  });

  it('does not keep a failed read, and a clock that went back reads again', async () => {
    const reg = registry([new Error('down'), [], []]);
    let now = 1000;
    const cache = new RelayCache(reg, () => now);
    await assert.rejects(cache.get(), /down/);
    assert.deepEqual(await cache.get(), []);
    assert.equal(reg.reads, 2);
    now = 900;
    await cache.get();
    assert.equal(reg.reads, 3);
  });
});
