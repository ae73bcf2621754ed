import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_PENALTIES } from '../relay/index.js';
import { defaultFull, parseMaxStartups, parsePenalties } from './startup-flags.js';

const GiB = 1024 ** 3;

describe('--max-startups', () => {
  const table: [string, { start: number; rate: number; full: number }][] = [
    ['100', { start: 50, rate: 30, full: 100 }],
    ['10:30:100', { start: 10, rate: 30, full: 100 }],
    [' 20:100:40 ', { start: 20, rate: 100, full: 40 }],
    ['40:30:40', { start: 40, rate: 30, full: 40 }],
  ];
  for (const [value, want] of table) {
    it(`parses ${value}`, () => assert.deepEqual(parseMaxStartups('--max-startups', value), want));
  }
  for (const bad of ['x', '1:2', '1:2:3:4', '0', '5:0:10', '5:101:10', '11:30:10', '-1']) {
    it(`refuses "${bad}" naming the flag`, () =>
      assert.throws(() => parseMaxStartups('--max-startups', bad), /--max-startups/));
  }
  it('sizes the default from memory: 1/64 of it at 64 KiB each, within 256..4096', () => {
    assert.equal(defaultFull(0.5 * GiB), 256);
    assert.equal(defaultFull(4 * GiB), 1024);
    assert.equal(defaultFull(24 * GiB), 4096);
    assert.equal(defaultFull(1024 * GiB), 4096);
    const d = parseMaxStartups('--max-startups', undefined);
    assert.equal(d.full, defaultFull());
    assert.equal(d.start, Math.floor(d.full / 2));
  });
});

describe('--per-source-penalties', () => {
  it('defaults to OpenSSH-like values, and no/off turn it off', () => {
    assert.deepEqual(parsePenalties('--p', undefined), DEFAULT_PENALTIES);
    assert.deepEqual(parsePenalties('--p', 'yes'), DEFAULT_PENALTIES);
    assert.equal(parsePenalties('--p', 'no'), undefined);
    assert.equal(parsePenalties('--p', 'off'), undefined);
  });
  it('overrides the items given', () => {
    const p = parsePenalties(
      '--p',
      'authfail:2s noauth:0 grace-exceeded:1m,max-per-source:500ms min:5s max:1h max-sources:10 overflow:deny-all',
    );
    assert.deepEqual(p, {
      add: { authfail: 2000, noauth: 0, 'grace-exceeded': 60_000, 'max-per-source': 500 },
      minMs: 5000,
      maxMs: 3_600_000,
      maxSources: 10,
      overflow: 'deny-all',
    });
  });
  for (const bad of ['authfail', 'authfail:x', 'crash:5s', 'overflow:maybe', 'min:2m max:1m']) {
    it(`refuses "${bad}" naming the flag`, () =>
      assert.throws(() => parsePenalties('--per-source-penalties', bad), /--per-source-penalties/));
  }
});
