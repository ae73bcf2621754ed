import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseExpiryTime } from './expiry.js';

describe('parseExpiryTime', () => {
  const utc: [text: string, iso: string][] = [
    ['20300102Z', '2030-01-02T00:00:00.000Z'],
    ['203001021304Z', '2030-01-02T13:04:00.000Z'],
    ['20300102130405Z', '2030-01-02T13:04:05.000Z'],
    ['20300102130405z', '2030-01-02T13:04:05.000Z'],
    ['20300102130405UTC', '2030-01-02T13:04:05.000Z'],
    ['20300102utc', '2030-01-02T00:00:00.000Z'],
    ['20240229Z', '2024-02-29T00:00:00.000Z'],
    ['19700101000001Z', '1970-01-01T00:00:01.000Z'],
  ];
  for (const [text, iso] of utc) {
    it(`reads ${text} as ${iso}`, () => {
      assert.deepEqual(parseExpiryTime(text), { ok: true, at: Date.parse(iso) });
    });
  }

  const local: [text: string, fields: [number, number, number, number, number, number]][] = [
    ['20300102', [2030, 0, 2, 0, 0, 0]],
    ['203001021304', [2030, 0, 2, 13, 4, 0]],
    ['20300712130405', [2030, 6, 12, 13, 4, 5]],
  ];
  for (const [text, f] of local) {
    it(`reads ${text} as local time`, () => {
      assert.deepEqual(parseExpiryTime(text), { ok: true, at: new Date(...f).getTime() });
    });
  }

  const bad = [
    '',
    'Z',
    'UTC',
    '2030',
    '203001',
    '2030010',
    '2030010212',
    '20300102123',
    '203001021234567',
    '2030-01-02',
    '20301302',
    '20300002',
    '20300100',
    '20300132',
    '20230229',
    '20300230',
    '203001022400',
    '203001021260',
    '20300102123460',
    '19691231Z',
    '19700101Z',
    '20300102 ',
    ' 20300102',
    '20300102ZZ',
    '20300102+0100',
    '２０３００１０２',
  ];
  for (const text of bad) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      assert.deepEqual(parseExpiryTime(text), { ok: false });
    });
  }
});
