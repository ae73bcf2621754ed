import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bearerChecker } from './auth.js';
import { ApiError, parseAvoid, parseName, parseNamesQuery } from './query.js';

function rejects(f: () => unknown, re: RegExp): void {
  assert.throws(f, (err: unknown) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.code, 'BAD_REQUEST');
    assert.match(err.message, re);
    return true;
  });
}

describe('parseName', () => {
  const ok: [string, string][] = [
    ['dev1', 'dev1'],
    ['DEV1', 'dev1'],
    ['a.b-c_d', 'a.b-c_d'],
  ];
  for (const [raw, want] of ok) it(`${raw} → ${want}`, () => assert.equal(parseName(raw), want));
  const bad: [string | undefined, RegExp][] = [
    [undefined, /name is required/],
    ['', /name is required/],
    ['127.0.0.1', /an address is not a name/],
    ['localhost', /reserved/],
    ['a b', /letters, digits/],
    ['\u0000', /letters, digits/],
    ['a'.repeat(254), /longer than 253/],
    ['a'.repeat(100_000), /longer than 253/],
  ];
  for (const [raw, re] of bad) {
    it(`refuses ${JSON.stringify(raw)?.slice(0, 20)}`, () => rejects(() => parseName(raw), re));
  }
});

describe('parseAvoid', () => {
  for (const raw of [undefined, '127.0.0.1:2222', 'relay-a.example:22', '[::1]:2222']) {
    it(`accepts ${raw}`, () => assert.equal(parseAvoid(raw), raw));
  }
  for (const raw of ['', 'host', 'a b:22', 'h:22/x', `${'a'.repeat(300)}:22`]) {
    it(`refuses ${JSON.stringify(raw).slice(0, 20)}`, () =>
      rejects(() => parseAvoid(raw), /avoid: expected a relay address/));
  }
});

describe('parseNamesQuery', () => {
  const ok: [Record<string, string>, object][] = [
    [{}, { prefix: '', limit: 100 }],
    [{ limit: '1' }, { prefix: '', limit: 1 }],
    [
      { limit: '1000', prefix: 'Dev' },
      { prefix: 'dev', limit: 1000 },
    ],
    [{ cursor: '12345' }, { prefix: '', limit: 100, cursor: '12345' }],
    [{ cursor: 'dev1.site' }, { prefix: '', limit: 100, cursor: 'dev1.site' }],
  ];
  for (const [q, want] of ok) {
    it(`accepts ${JSON.stringify(q)}`, () => assert.deepEqual(parseNamesQuery(q), want));
  }
  const bad: [Record<string, string>, RegExp][] = [
    [{ limit: '0' }, /limit/],
    [{ limit: '1001' }, /limit/],
    [{ limit: '-1' }, /limit/],
    [{ limit: '1e3' }, /limit/],
    [{ limit: '9'.repeat(50) }, /limit/],
    [{ limit: '' }, /limit/],
    [{ prefix: '*' }, /prefix/],
    [{ prefix: 'a'.repeat(254) }, /prefix longer/],
    [{ cursor: '' }, /cursor/],
    [{ cursor: '**' }, /cursor/],
    [{ cursor: '1'.repeat(254) }, /cursor/],
  ];
  for (const [q, re] of bad) {
    it(`refuses ${JSON.stringify(q).slice(0, 40)}`, () => rejects(() => parseNamesQuery(q), re));
  }
});

describe('bearerChecker', () => {
  const check = bearerChecker('s3cret-token');
  const cases: [string | undefined, boolean][] = [
    ['Bearer s3cret-token', true],
    ['bearer s3cret-token', true],
    [undefined, false],
    ['', false],
    ['Bearer ', false],
    ['Bearer s3cret-tokenx', false],
    ['Bearer s3cret', false],
    ['Basic s3cret-token', false],
    ['s3cret-token', false],
    [`Bearer ${'x'.repeat(10_000)}`, false],
  ];
  for (const [header, want] of cases) {
    it(`${JSON.stringify(header)?.slice(0, 30)} → ${want}`, () =>
      assert.equal(check(header), want));
  }
});
