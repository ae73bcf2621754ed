import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  forwardRefusedText,
  isPermanentRefusal,
  isRegisterRefusal,
  parseForwardRefused,
  REGISTER_REFUSALS,
} from './refusals.js';

describe('the forward-refused debug message', () => {
  it('is pinned on the wire: agents of other versions parse these exact bytes', () => {
    assert.equal(
      forwardRefusedText('name-held', 'dev1:22'),
      'burrow: forward refused: name-held dev1:22',
    );
  });

  it('reads back every reason with its request', () => {
    for (const reason of REGISTER_REFUSALS) {
      for (const request of ['dev1:22', '/run/x/dev1.sock', 'dev1:22 (released)']) {
        assert.deepEqual(parseForwardRefused(forwardRefusedText(reason, request)), {
          reason,
          request,
        });
      }
    }
  });

  const cases: [text: string, want: ReturnType<typeof parseForwardRefused>][] = [
    ['burrow: forward refused: teapot dev1:22', { reason: 'unknown', request: 'dev1:22' }],
    ['burrow: forward refused: ', { reason: 'unknown', request: '' }],
    ['burrow: forward refused: not-permitted', { reason: 'not-permitted', request: '' }],
    ['burrow: forward refused: constructor dev1:22', { reason: 'unknown', request: 'dev1:22' }],
    ['burrow: forward refused: NOT-PERMITTED a:1', { reason: 'unknown', request: 'a:1' }],
    ['burrow: closing: this key was removed', undefined],
    ['forward refused: not-permitted a:1', undefined],
    ['', undefined],
  ];
  for (const [text, want] of cases) {
    it(`${JSON.stringify(text)} reads as ${JSON.stringify(want)}`, () => {
      assert.deepEqual(parseForwardRefused(text), want);
    });
  }
});

describe('registration refusals', () => {
  it('the guard accepts exactly the known words', () => {
    for (const r of REGISTER_REFUSALS) assert.ok(isRegisterRefusal(r), r);
    for (const s of ['unknown', 'connection-lost', 'toString', '', 'not-permitted ']) {
      assert.equal(isRegisterRefusal(s), false, s);
    }
  });

  it('only refusals the policy or the request must fix are permanent', () => {
    assert.deepEqual(REGISTER_REFUSALS.filter(isPermanentRefusal), [
      'not-a-name',
      'port-required',
      'key-not-authorized',
      'not-permitted',
    ]);
    for (const s of ['unknown', 'connection-lost', 'registration-timeout']) {
      assert.equal(isPermanentRefusal(s), false, s);
    }
  });
});
