import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCount, parseDuration, parseHostPort } from './parse.js';

describe('parseHostPort', () => {
  const good: [string, { host: string; port: number }][] = [
    ['127.0.0.1:2222', { host: '127.0.0.1', port: 2222 }],
    [':2222', { host: '0.0.0.0', port: 2222 }],
    ['[::1]:22', { host: '::1', port: 22 }],
    ['relay.example:0', { host: 'relay.example', port: 0 }],
  ];
  for (const [input, want] of good)
    it(`accepts ${input}`, () => assert.deepEqual(parseHostPort('--listen', input), want));
  for (const bad of ['2222', '127.0.0.1', 'a:b', '1.2.3.4:70000', '[nope]:22', '']) {
    it(`rejects "${bad}" naming the flag`, () =>
      assert.throws(() => parseHostPort('--listen', bad), /--listen: /));
  }
});

describe('parseDuration', () => {
  const cases: [string, number][] = [
    ['5', 5000],
    ['5s', 5000],
    ['250ms', 250],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['0.5s', 500],
  ];
  for (const [input, want] of cases)
    it(`${input} = ${want} ms`, () => assert.equal(parseDuration('--x', input), want));
  for (const bad of ['', 'fast', '-1s', '5 days', '1e400']) {
    it(`rejects "${bad}"`, () => assert.throws(() => parseDuration('--x', bad), /--x: /));
  }
});

describe('parseCount', () => {
  it('accepts in range', () => assert.equal(parseCount('--n', '6'), 6));
  for (const bad of ['0', '-3', '1.5', 'many', '99999999']) {
    it(`rejects "${bad}"`, () =>
      assert.throws(() => parseCount('--n', bad), /--n: expected a whole number/));
  }
});
