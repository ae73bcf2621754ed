import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pageAuthorizer } from './status-route.js';

const basic = (userPass: string) => `Basic ${Buffer.from(userPass).toString('base64')}`;

describe('pageAuthorizer', () => {
  const check = pageAuthorizer('s3cret-token');
  const cases: [string | undefined, boolean][] = [
    ['Bearer s3cret-token', true],
    [basic('ops:s3cret-token'), true],
    [basic(':s3cret-token'), true],
    [basic('any user at all:s3cret-token'), true],
    [undefined, false],
    ['', false],
    [basic('ops:wrong'), false],
    [basic('s3cret-token'), false],
    [basic('s3cret-token:'), false],
    [basic('ops:s3cret-token '), false],
    [basic('ops:s3cret-tokenx'), false],
    ['Basic !!!', false],
    [`Basic ${'A'.repeat(10_000)}`, false],
    ['Bearer wrong', false],
  ];
  for (const [header, want] of cases) {
    it(`${JSON.stringify(header)?.slice(0, 40)} → ${want}`, () =>
      assert.equal(check(header), want));
  }
});
