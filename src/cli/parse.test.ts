import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseCount,
  parseDuration,
  parseForwardSpec,
  parseHostPort,
  parseRelayList,
} from './parse.js';

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

describe('parseRelayList', () => {
  const good: [string, string[]][] = [
    ['relay1:2222', ['relay1:2222']],
    ['relay1', ['relay1:2222']],
    ['a:1, b ,c:3', ['a:1', 'b:2222', 'c:3']],
    ['[::1]:22', ['[::1]:22']],
    ['[::1]', ['[::1]:2222']],
    ['::1', ['[::1]:2222']],
    ['10.0.0.1:22,10.0.0.2', ['10.0.0.1:22', '10.0.0.2:2222']],
  ];
  for (const [input, want] of good) {
    it(`reads "${input}"`, () =>
      assert.deepEqual(
        parseRelayList('--relay', input, 2222).map((r) => r.id),
        want,
      ));
  }
  it('keeps host and port apart', () =>
    assert.deepEqual(parseRelayList('--relay', '[::1]:22', 2222), [
      { id: '[::1]:22', host: '::1', port: 22 },
    ]));
  const bad: [string, RegExp][] = [
    ['', /expected HOST:PORT/],
    [',', /expected HOST:PORT/],
    ['a:99999', /expected HOST:PORT/],
    ['a:0', /port 0/],
    [':22', /has no host/],
    ['a:1,a:1', /listed twice/],
    ['[nope]:1', /not an IPv6 address/],
  ];
  for (const [input, re] of bad) {
    it(`rejects "${input}"`, () => assert.throws(() => parseRelayList('--relay', input, 2222), re));
  }
});

describe('parseForwardSpec', () => {
  it('reads PORT=HOST:PORT', () =>
    assert.deepEqual(parseForwardSpec('--forward', '22=localhost:22'), {
      port: 22,
      targetHost: 'localhost',
      targetPort: 22,
    }));
  it('reads an IPv6 target', () =>
    assert.deepEqual(parseForwardSpec('--forward', '8080=[::1]:80'), {
      port: 8080,
      targetHost: '::1',
      targetPort: 80,
    }));
  for (const bad of [
    '22',
    '22=',
    '=a:1',
    '0=a:1',
    '70000=a:1',
    '22=a',
    '22=:1',
    '22=a:0',
    'x=a:1',
  ]) {
    it(`rejects "${bad}"`, () =>
      assert.throws(
        () => parseForwardSpec('--forward', bad),
        /--forward: expected PORT=HOST:PORT/,
      ));
  }
});
