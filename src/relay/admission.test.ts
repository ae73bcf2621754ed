import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Admission, normalizeAddress } from './admission.js';

describe('Admission', () => {
  it('caps per source and in total, and frees slots on settle', () => {
    const a = new Admission(3, 2);
    assert.deepEqual(a.admit('1.1.1.1'), { ok: true });
    assert.deepEqual(a.admit('1.1.1.1'), { ok: true });
    assert.deepEqual(a.admit('1.1.1.1'), { ok: false, reason: 'max-per-source' });
    assert.deepEqual(a.admit('2.2.2.2'), { ok: true });
    assert.deepEqual(a.admit('3.3.3.3'), { ok: false, reason: 'max-startups' });
    a.settle('1.1.1.1');
    assert.equal(a.pending, 2);
    assert.deepEqual(a.admit('3.3.3.3'), { ok: true });
    a.settle('unknown');
    assert.equal(a.pending, 3);
  });

  const addrs: [string | undefined, string][] = [
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['127.0.0.1', '127.0.0.1'],
    ['::1', '::1'],
    ['::ffff:abcd', '::ffff:abcd'],
    [undefined, '?'],
  ];
  for (const [input, want] of addrs) {
    it(`normalizes ${input}`, () => assert.equal(normalizeAddress(input), want));
  }
});
