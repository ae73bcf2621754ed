import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prng } from '../../test/helpers/prng.js';
import { Admission, normalizeAddress } from './admission.js';
import { sourceOf } from './sources.js';

describe('Admission', () => {
  it('caps per source and in total, and frees slots on settle', () => {
    const a = new Admission({ start: 3, rate: 30, full: 3, perSource: 2 });
    assert.deepEqual(a.admit('1.1.1.1'), { ok: true });
    assert.deepEqual(a.admit('1.1.1.1'), { ok: true });
    assert.deepEqual(a.admit('1.1.1.1'), { ok: false, reason: 'max-per-source' });
    assert.deepEqual(a.admit('2.2.2.2'), { ok: true });
    assert.deepEqual(a.admit('2.2.2.2'), { ok: false, reason: 'max-startups' });
    a.settle('1.1.1.1');
    assert.equal(a.pending, 2);
    assert.deepEqual(a.admit('3.3.3.3'), { ok: true });
    a.settle('unknown');
    assert.equal(a.pending, 3);
  });

  it("admits a source's first connection at full by evicting from the heaviest source", () => {
    const a = new Admission({ start: 4, rate: 30, full: 4, perSource: 10 });
    for (const s of ['a', 'a', 'a', 'b']) assert.equal(a.admit(s).ok, true);
    assert.deepEqual(a.admit('c'), { ok: true, evict: 'a' });
    assert.deepEqual(a.admit('b'), { ok: false, reason: 'max-startups' });
    a.settle('a');
    // Now a:2 b:1 c:1 at full 4: d evicts from a; once every source holds one, none is evicted.
    assert.deepEqual(a.admit('d'), { ok: true, evict: 'a' });
    a.settle('a');
    assert.deepEqual(a.admit('e'), { ok: false, reason: 'max-startups' });
  });

  // pending count before the admit → expected refusal probability, for start 10, rate 30, full 20.
  const curve: [number, number][] = [
    [0, 0],
    [9, 0],
    [10, 0.3],
    [15, 0.65],
    [19, 0.93],
    [20, 1],
  ];
  for (const [pending, p] of curve) {
    it(`refuses a source's second connection with probability ${p} at ${pending} pending`, () => {
      const limits = { start: 10, rate: 30, full: 20, perSource: 100 };
      // Fill without early drop: each source's first connection is exempt below full.
      const b = new Admission(limits, prng(7));
      for (let i = 0; i < pending; i++) assert.equal(b.admit(`s${i}`).ok, true);
      assert.ok(Math.abs(b.dropProbability() - p) < 1e-9, `${b.dropProbability()}`);
      // Measured over many tries of a second connection from s0 with a seeded random.
      const tries = 4000;
      let refused = 0;
      for (let i = 0; i < tries; i++) {
        if (pending === 0) b.admit('s0');
        const r = b.admit('s0');
        if (r.ok) b.settle('s0');
        else refused += 1;
        if (pending === 0) b.settle('s0');
      }
      assert.ok(Math.abs(refused / tries - p) < 0.03, `refused ${refused}/${tries}, want ≈${p}`);
    });
  }

  it("never early-drops a source's first connection below full", () => {
    const a = new Admission({ start: 1, rate: 100, full: 50, perSource: 5 }, () => 0);
    for (let i = 0; i < 49; i++) assert.equal(a.admit(`s${i}`).ok, true);
    assert.deepEqual(a.admit('s0'), { ok: false, reason: 'max-startups' });
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

describe('sourceOf', () => {
  const table: [string | undefined, string][] = [
    ['10.1.2.3', '10.1.2.3'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['::FFFF:10.1.2.3', '10.1.2.3'],
    ['::ffff:a01:203', '10.1.2.3'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::99', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:db8:1:3::1', '2001:db8:1:3::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['::', '0:0:0:0::/64'],
    ['64:ff9b::10.1.2.3', '64:ff9b:0:0::/64'],
    ['not-an-address', 'not-an-address'],
    [undefined, '?'],
  ];
  for (const [input, want] of table) {
    it(`groups ${input} as ${want}`, () => assert.equal(sourceOf(input), want));
  }

  it('puts every address of one /64 in one source and the next /64 in another', () => {
    const rand = prng(3);
    for (let i = 0; i < 200; i++) {
      const tail = Array.from({ length: 4 }, () => Math.floor(rand() * 65536).toString(16));
      assert.equal(sourceOf(`2001:db8:aa:bb:${tail.join(':')}`), '2001:db8:aa:bb::/64');
    }
    assert.notEqual(sourceOf('2001:db8:aa:bb::1'), sourceOf('2001:db8:aa:bc::1'));
  });
});
