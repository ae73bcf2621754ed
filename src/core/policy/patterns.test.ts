import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatIp,
  matchAddressList,
  matchGlob,
  matchRoutePattern,
  parseAddressPatternList,
  parseIp,
  parseRoutePattern,
} from './patterns.js';

describe('matchGlob', () => {
  const cases: [pattern: string, subject: string, expected: boolean][] = [
    ['dev1', 'dev1', true],
    ['dev1', 'dev10', false],
    ['dev1', 'dev', false],
    ['DEV1', 'dev1', true],
    ['dev1', 'DeV1', true],
    ['*', '', true],
    ['*', 'anything', true],
    ['', '', true],
    ['', 'x', false],
    ['dev*', 'dev', true],
    ['dev*', 'device-7', true],
    ['*.lab', 'a.b.lab', true],
    ['*.lab', 'lab', false],
    ['d?v', 'dev', true],
    ['d?v', 'dv', false],
    ['d?v', 'deev', false],
    ['?', '', false],
    ['a*b*c', 'aXXbYYc', true],
    ['a*b*c', 'aXXbYY', false],
    ['*a*a*a*b', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', false],
    ['2?', '22', true],
    ['2?', '2', false],
    ['80*', '8080', true],
  ];
  for (const [pattern, subject, expected] of cases) {
    it(`${JSON.stringify(pattern)} vs ${JSON.stringify(subject)} -> ${expected}`, () => {
      assert.equal(matchGlob(pattern, subject), expected);
    });
  }
});

describe('parseIp / formatIp', () => {
  const cases: [input: string, family: 4 | 6 | undefined, text?: string][] = [
    ['127.0.0.1', 4, '127.0.0.1'],
    ['::ffff:127.0.0.1', 4, '127.0.0.1'],
    ['::FFFF:7f00:1', 4, '127.0.0.1'],
    ['::1', 6, '::1'],
    ['::', 6, '::'],
    ['2001:DB8:0:0:0:0:0:1', 6, '2001:db8::1'],
    ['2001:db8:0:1:0:0:0:1', 6, '2001:db8:0:1::1'],
    ['2001:0:0:1:0:0:0:1', 6, '2001:0:0:1::1'],
    ['1:0:2:0:3:0:4:0', 6, '1:0:2:0:3:0:4:0'],
    ['fe80::1%eth0', 6, 'fe80::1'],
    ['::1.2.3.4', 6, '::1.2.3.4'],
    ['1.2.3.04', undefined],
    ['dev1', undefined],
    ['', undefined],
  ];
  for (const [input, family, text] of cases) {
    it(`${input}`, () => {
      const ip = parseIp(input);
      assert.equal(ip?.family, family);
      if (ip !== undefined) assert.equal(formatIp(ip), text);
    });
  }
});

describe('parseAddressPatternList errors', () => {
  const cases: [list: string, message: string][] = [
    ['', 'from=: empty pattern'],
    ['10.0.0.1,', 'from=: empty pattern'],
    ['!', 'from=: empty pattern'],
    ['10.0.0.0/33', 'from=: "10.0.0.0/33" is not a valid CIDR block'],
    ['10.0.0.0/', 'from=: "10.0.0.0/" is not a valid CIDR block'],
    ['10.0.0.0/x', 'from=: "10.0.0.0/x" is not a valid CIDR block'],
    ['10.0.0/8', 'from=: "10.0.0/8" is not a valid CIDR block'],
    ['10.0.0.*/8', 'from=: "10.0.0.*/8" is not a valid CIDR block'],
    ['2001:db8::/129', 'from=: "2001:db8::/129" is not a valid CIDR block'],
    ['10.0.0.1/8', 'from=: "10.0.0.1/8" has bits set after the /8 prefix'],
    ['2001:db8::1/32', 'from=: "2001:db8::1/32" has bits set after the /32 prefix'],
    ['::ffff:10.0.0.0/64', 'from=: "::ffff:10.0.0.0/64" is not a valid CIDR block'],
    ['10.0.0.256', 'from=: "10.0.0.256" is not a valid address'],
    [
      '*.example.com',
      'from=: "*.example.com" is a host name; burrow matches source addresses only',
    ],
    ['10.0.0.1, 10.0.0.2', 'from=: pattern " 10.0.0.2" contains a blank'],
    ['fe80::1%eth0', 'from=: pattern "fe80::1%eth0": zone ids are not supported'],
  ];
  for (const [list, message] of cases) {
    it(`refuses ${JSON.stringify(list)}`, () => {
      assert.deepEqual(parseAddressPatternList(list), { ok: false, message });
    });
  }
});

describe('matchAddressList', () => {
  const cases: [list: string, source: string, expected: 'match' | 'no-match' | 'negated'][] = [
    ['10.0.0.1', '10.0.0.1', 'match'],
    ['10.0.0.1', '10.0.0.2', 'no-match'],
    ['10.0.0.0/8', '10.255.1.2', 'match'],
    ['10.0.0.0/8', '11.0.0.1', 'no-match'],
    ['192.168.1.128/25', '192.168.1.200', 'match'],
    ['192.168.1.128/25', '192.168.1.100', 'no-match'],
    ['0.0.0.0/0', '203.0.113.9', 'match'],
    ['0.0.0.0/0', '2001:db8::1', 'no-match'],
    ['10.0.0.*', '10.0.0.77', 'match'],
    ['10.0.0.?', '10.0.0.77', 'no-match'],
    ['*', '2001:db8::1', 'match'],
    ['2001:db8::/32', '2001:db8:ffff::1', 'match'],
    ['2001:db8::/32', '2001:db9::1', 'no-match'],
    ['2001:db8::/33', '2001:db8:8000::1', 'no-match'],
    ['::1', '0:0:0:0:0:0:0:1', 'match'],
    ['2001:db8::*', '2001:DB8::5', 'match'],
    ['::/0', '127.0.0.1', 'no-match'],
    // IPv4-mapped sources are their IPv4 address, as sshd sees them.
    ['127.0.0.1', '::ffff:127.0.0.1', 'match'],
    ['127.0.0.0/8', '::ffff:127.1.2.3', 'match'],
    ['127.0.0.*', '::ffff:127.0.0.9', 'match'],
    ['::ffff:127.0.0.0/104', '127.0.0.1', 'match'],
    ['::ffff:127.0.0.1', '127.0.0.1', 'match'],
    // Negation: a negated match denies whatever else matches, in any order.
    ['10.0.0.0/8,!10.0.0.5', '10.0.0.5', 'negated'],
    ['!10.0.0.5,10.0.0.0/8', '10.0.0.5', 'negated'],
    ['10.0.0.0/8,!10.0.0.5', '10.0.0.6', 'match'],
    ['!10.0.0.5', '10.0.0.6', 'no-match'],
    ['!10.0.0.0/8,*', '10.1.1.1', 'negated'],
    ['!10.0.0.0/8,*', '11.1.1.1', 'match'],
    ['!2001:db8::/32,::/0', '2001:db8::1', 'negated'],
    ['*,!127.0.0.1', '::ffff:127.0.0.1', 'negated'],
    // A source that is not an address matches nothing, not even "*".
    ['*', 'dev1.example.com', 'no-match'],
    ['*', '', 'no-match'],
  ];
  for (const [list, source, expected] of cases) {
    it(`${list} vs ${source} -> ${expected}`, () => {
      const parsed = parseAddressPatternList(list);
      assert.ok(parsed.ok, JSON.stringify(parsed));
      assert.equal(matchAddressList(parsed.list, source), expected);
    });
  }
});

describe('route patterns', () => {
  const bad: [text: string, message: string][] = [
    ['dev1', '"dev1" needs NAME:PORT'],
    [':22', '":22" has an empty name'],
    ['dev1:', '"dev1:" has a bad port'],
    ['dev1:0', '"dev1:0" has a bad port'],
    ['dev1:65536', '"dev1:65536" has a bad port'],
    ['dev1:ssh', '"dev1:ssh" has a bad port'],
    ['dev 1:22', '"dev 1:22": names use letters, digits, "-", "_", "." and the globs "*", "?"'],
    ['[::1]:22', '"[::1]:22": names use letters, digits, "-", "_", "." and the globs "*", "?"'],
  ];
  for (const [text, message] of bad) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      assert.deepEqual(parseRoutePattern(text), { ok: false, message });
    });
  }

  const good: [text: string, name: string, port: number, expected: boolean][] = [
    ['dev1:22', 'dev1', 22, true],
    ['Dev1:22', 'dev1', 22, true],
    ['dev1:022', 'dev1', 22, true],
    ['dev1:22', 'dev1', 2222, false],
    ['dev1:22', 'dev2', 22, false],
    ['dev*:22', 'dev42', 22, true],
    ['dev?:22', 'dev42', 22, false],
    ['dev1:*', 'dev1', 8080, true],
    ['*:*', 'anything.lab', 1, true],
    ['dev1:80*', 'dev1', 8080, true],
    ['dev1:80*', 'dev1', 443, false],
    ['dev1:2?', 'dev1', 22, true],
    ['dev1:*', 'dev1', 0, false],
    ['dev1:*', 'dev1', 70000, false],
    ['dev1:*', 'dev1', 22.5, false],
  ];
  for (const [text, name, port, expected] of good) {
    it(`${text} vs ${name}:${port} -> ${expected}`, () => {
      const parsed = parseRoutePattern(text);
      assert.ok(parsed.ok, JSON.stringify(parsed));
      assert.equal(matchRoutePattern(parsed.pattern, name, port), expected);
    });
  }

  it('lower-cases names and canonicalises numeric ports at parse time', () => {
    assert.deepEqual(parseRoutePattern('Lab-*.EXAMPLE:0022'), {
      ok: true,
      pattern: { name: 'lab-*.example', port: '22' },
    });
  });
});
