import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConnectionCaps, sourceOf } from './connection-caps.js';

describe('ConnectionCaps', () => {
  it('caps per key and per source, and frees slots on remove', () => {
    const c = new ConnectionCaps(2, 3);
    assert.deepEqual(c.admit('k1', 'a'), { ok: true });
    assert.deepEqual(c.admit('k1', 'a'), { ok: true });
    assert.deepEqual(c.admit('k1', 'b'), { ok: false, reason: 'max-connections-per-key' });
    assert.deepEqual(c.admit('k2', 'a'), { ok: true });
    assert.deepEqual(c.admit('k3', 'a'), { ok: false, reason: 'max-connections-per-source' });
    assert.deepEqual(c.admit('k3', 'b'), { ok: true });
    c.remove('k1', 'a');
    assert.equal(c.ofKey('k1'), 1);
    assert.equal(c.ofSource('a'), 2);
    assert.deepEqual(c.admit('k1', 'b'), { ok: true });
  });

  it('a refused admit counts nothing', () => {
    const c = new ConnectionCaps(1, 1);
    assert.deepEqual(c.admit('k1', 'a'), { ok: true });
    assert.equal(c.admit('k1', 'b').ok, false);
    assert.equal(c.admit('k2', 'a').ok, false);
    assert.equal(c.ofKey('k2'), 0);
    assert.equal(c.ofSource('b'), 0);
  });

  it('add counts past the cap; remove of what was never counted changes nothing', () => {
    const c = new ConnectionCaps(1, 1);
    c.add('k1', 'a');
    c.add('k1', 'a');
    assert.equal(c.ofKey('k1'), 2);
    c.remove('k9', 'z');
    c.remove('k1', 'a');
    c.remove('k1', 'a');
    c.remove('k1', 'a');
    assert.equal(c.ofKey('k1'), 0);
    assert.equal(c.ofSource('a'), 0);
    assert.deepEqual(c.admit('k1', 'a'), { ok: true });
  });
});

describe('sourceOf', () => {
  const cases: [string, string][] = [
    ['127.0.0.1', '127.0.0.1'],
    ['10.1.2.3', '10.1.2.3'],
    ['::1', '0:0:0:0::/64'],
    ['::', '0:0:0:0::/64'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::7', '2001:db8:1:2::/64'],
    ['2001:DB8:0001:0002:ffff::1', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['2001:db8::', '2001:db8:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['64:ff9b::192.0.2.1', '64:ff9b:0:0::/64'],
    ['::ffff:abcd', '0:0:0:0::/64'],
    ['?', '?'],
  ];
  for (const [ip, want] of cases) {
    it(`${ip} → ${want}`, () => assert.equal(sourceOf(ip), want));
  }
});
