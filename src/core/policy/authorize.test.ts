import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blobFor, keyLine } from '../../../test/fixtures/testkeys.js';
import { authorize, mayListen, mayOpen, type PolicyEntry, parseAuthorizedKeys } from './policy.js';

const A = blobFor('ssh-ed25519', 'a');
const B = blobFor('ssh-ed25519', 'b');
const NOW = Date.parse('2030-06-01T12:00:00Z');

function onlyEntry(line: string): PolicyEntry {
  const { entries, errors } = parseAuthorizedKeys(line, 'keys.txt');
  assert.deepEqual(errors, []);
  assert.equal(entries.length, 1);
  return entries[0]!;
}

describe('authorize', () => {
  const text = [
    keyLine('from="10.0.0.0/8"', 'a'), // 1
    keyLine('from="192.168.0.0/16,!192.168.9.9"', 'a'), // 2
    keyLine('expiry-time="20300101Z",from="172.16.0.0/12"', 'a'), // 3
    keyLine('expiry-time="20300101Z"', 'b'), // 4
  ].join('\n');
  const { entries } = parseAuthorizedKeys(text, 'k');
  const cases: [name: string, key: Buffer, ip: string, now: number, line: number | string][] = [
    ['first line whose from= passes', A, '10.1.2.3', NOW, 1],
    ['later duplicate line when the first fails', A, '192.168.1.1', NOW, 2],
    ['mapped source matches an IPv4 from=', A, '::ffff:10.9.9.9', NOW, 1],
    ['negated source fails that line', A, '192.168.9.9', NOW, 'from-mismatch'],
    ['no line allows the source', A, '8.8.8.8', NOW, 'from-mismatch'],
    ['expired line with matching from= falls through', A, '172.16.0.1', NOW, 'from-mismatch'],
    ['same line before expiry', A, '172.16.0.1', Date.parse('2029-12-31T23:59:59Z'), 3],
    ['unknown key', blobFor('ssh-ed25519', 'c'), '10.1.2.3', NOW, 'unknown-key'],
    [
      'key of another type with the same seed',
      blobFor('ssh-rsa', 'a'),
      '10.1.2.3',
      NOW,
      'unknown-key',
    ],
    ['expired key', B, '10.1.2.3', NOW, 'expired'],
    [
      'valid through the whole expiry second',
      B,
      '1.1.1.1',
      Date.parse('2030-01-01T00:00:00.999Z'),
      4,
    ],
    ['expired the second after', B, '1.1.1.1', Date.parse('2030-01-01T00:00:01Z'), 'expired'],
  ];
  for (const [name, key, ip, now, expected] of cases) {
    it(name, () => {
      const result = authorize(entries, key, ip, now);
      if (typeof expected === 'number') {
        assert.equal(result.ok, true, JSON.stringify(result));
        assert.equal(result.ok && result.entry.line, expected);
      } else {
        assert.deepEqual(result, { ok: false, reason: expected });
      }
    });
  }

  it('reports the first failing line when a key fails on several lines', () => {
    const lines = [keyLine('expiry-time="20200101Z"', 'a'), keyLine('from="10.0.0.0/8"', 'a')].join(
      '\n',
    );
    const parsed = parseAuthorizedKeys(lines, 'k').entries;
    assert.deepEqual(authorize(parsed, A, '8.8.8.8', NOW), { ok: false, reason: 'expired' });
    assert.deepEqual(authorize(parsed.slice().reverse(), A, '8.8.8.8', NOW), {
      ok: false,
      reason: 'from-mismatch',
    });
  });

  it('refuses everything with an empty policy', () => {
    assert.deepEqual(authorize([], A, '10.0.0.1', NOW), { ok: false, reason: 'unknown-key' });
  });
});

describe('mayListen / mayOpen', () => {
  const entry = (options: string) => onlyEntry(keyLine(options));
  const cases: [options: string, fn: 'listen' | 'open', name: string, port: number, ok: boolean][] =
    [
      ['', 'listen', 'dev1', 22, false],
      ['', 'open', 'dev1', 22, false],
      ['permitopen="dev1:22"', 'listen', 'dev1', 22, false],
      ['permitlisten="dev1:22"', 'open', 'dev1', 22, false],
      ['permitlisten="dev1:22"', 'listen', 'dev1', 22, true],
      ['permitlisten="dev1:22"', 'listen', 'DEV1', 22, true],
      ['permitlisten="dev1:22"', 'listen', 'dev1', 2222, false],
      ['permitlisten="dev1:22"', 'listen', 'dev2', 22, false],
      ['permitlisten="DEV1:22"', 'listen', 'dev1', 22, true],
      ['permitlisten="dev1:22",permitlisten="dev1:80"', 'listen', 'dev1', 80, true],
      ['permitlisten="dev-*:*"', 'listen', 'dev-kitchen', 8080, true],
      ['permitlisten="dev-*:*"', 'listen', 'prod-1', 8080, false],
      ['permitopen="*:22"', 'open', 'anything', 22, true],
      ['permitopen="*:22"', 'open', 'anything', 23, false],
      ['permitopen="lab?:2?"', 'open', 'lab1', 22, true],
      ['permitopen="lab?:2?"', 'open', 'lab10', 22, false],
      ['permitlisten="*:*",permitopen="*:*",no-port-forwarding', 'listen', 'dev1', 22, false],
      ['permitlisten="*:*",permitopen="*:*",no-port-forwarding', 'open', 'dev1', 22, false],
      ['no-port-forwarding,port-forwarding,permitopen="*:*"', 'open', 'dev1', 22, false],
      ['restrict,permitopen="dev1:22"', 'open', 'dev1', 22, true],
    ];
  for (const [options, fn, name, port, ok] of cases) {
    it(`${options || '(no options)'}: ${fn} ${name}:${port} -> ${ok}`, () => {
      const check = fn === 'listen' ? mayListen : mayOpen;
      assert.equal(check(entry(options), name, port), ok);
    });
  }
});
