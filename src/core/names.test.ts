import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkName, isInetAtonSpelling } from './names.js';

describe('checkName', () => {
  const refused: [string, string][] = [
    ['127.0.0.1', 'an address'],
    ['127.1', 'an address'],
    ['0x7f000001', 'an address'],
    ['2130706433', 'an address'],
    ['010.0.0.1', 'an address'],
    ['0x7f.1', 'an address'],
    ['1.2.3.4', 'an address'],
    ['::1', 'an address'],
    ['[::1]', 'an address'],
    ['::ffff:127.0.0.1', 'an address'],
    ['', 'no name'],
    ['*', 'no name'],
    ['localhost', 'reserved'],
    ['LOCALHOST', 'reserved'],
    ['ｌｏｃａｌｈｏｓｔ', 'reserved'],
    ['dev 1', 'names use'],
    ['dev1.', 'names use'],
    ['-dev1', 'names use'],
    ['dév1', 'names use'],
    ['a'.repeat(254), 'longer than 253'],
    ['a'.repeat(100_000), 'longer than 253'],
  ];
  for (const [raw, reason] of refused) {
    it(`refuses ${JSON.stringify(raw.slice(0, 24))} (${reason})`, () => {
      const check = checkName(raw);
      assert.equal(check.ok, false);
      assert.match(check.ok ? '' : check.reason, new RegExp(reason));
    });
  }

  const accepted: [string, string][] = [
    ['dev1', 'dev1'],
    ['DEV1', 'dev1'],
    ['ｄｅｖ１', 'dev1'],
    ['box-1.fleet', 'box-1.fleet'],
    ['1.2.3.4.5', '1.2.3.4.5'],
    ['0x7g', '0x7g'],
    ['123abc', '123abc'],
  ];
  for (const [raw, name] of accepted) {
    it(`accepts ${JSON.stringify(raw)} as ${name}`, () => {
      assert.deepEqual(checkName(raw), { ok: true, name });
    });
  }
});

describe('isInetAtonSpelling', () => {
  for (const [name, expected] of [
    ['2130706433', true],
    ['0x7f000001', true],
    ['127.1', true],
    ['0177.0.0.1', true],
    ['1.2.3.4.5', false],
    ['dev1', false],
    ['0x', true],
  ] as const) {
    it(`${name} → ${expected}`, () => assert.equal(isInetAtonSpelling(name), expected));
  }
});
