import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blobFor, keyLine } from '../../../test/fixtures/testkeys.js';
import * as api from './index.js';
import { authorize, type PolicyEntry, parseAuthorizedKeys, policyLineError } from './policy.js';

const A = blobFor('ssh-ed25519', 'a');
const NOW = Date.parse('2030-06-01T12:00:00Z');

function onlyEntry(line: string): PolicyEntry {
  const { entries, errors } = parseAuthorizedKeys(line, 'keys.txt');
  assert.deepEqual(errors, []);
  assert.equal(entries.length, 1);
  return entries[0]!;
}

function errorFor(line: string): string {
  const { entries, errors } = parseAuthorizedKeys(line, 'keys.txt');
  assert.deepEqual(entries, []);
  assert.equal(errors.length, 1);
  return errors[0]!.message;
}

describe('parseAuthorizedKeys: entries', () => {
  it('records file, line, key, fingerprint and comment', () => {
    const text = `# policy\n\n${keyLine('', 'a', 'dev one')}\n`;
    const { entries, errors } = parseAuthorizedKeys(text, 'keys.txt');
    assert.deepEqual(errors, []);
    assert.deepEqual(entries, [
      {
        file: 'keys.txt',
        line: 3,
        keyType: 'ssh-ed25519',
        keyBlob: A,
        fingerprint: api.fingerprint(A),
        comment: 'dev one',
        listen: [],
        open: [],
        noPortForwarding: false,
        pty: true,
      },
    ]);
  });

  const sessionCases: [options: string, command: string | undefined, pty: boolean][] = [
    ['', undefined, true],
    ['command="uptime"', 'uptime', true],
    ['no-pty', undefined, false],
    ['restrict', undefined, false],
    ['restrict,pty', undefined, true],
    ['pty,restrict', undefined, false],
    ['restrict,command="backup --now"', 'backup --now', false],
  ];
  for (const [options, command, pty] of sessionCases) {
    it(`session options "${options}": command ${command}, pty ${pty}`, () => {
      const entry = onlyEntry(keyLine(options, 'a'));
      assert.equal(entry.command, command);
      assert.equal(entry.pty, pty);
    });
  }

  it('collects every permitlisten and permitopen, lower-cased', () => {
    const entry = onlyEntry(
      keyLine(
        'permitlisten="Dev1:22",permitlisten="dev1:80*",permitopen="*.LAB:*",PermitOpen="x:1"',
      ),
    );
    assert.deepEqual(entry.listen, [
      { name: 'dev1', port: '22' },
      { name: 'dev1', port: '80*' },
    ]);
    assert.deepEqual(entry.open, [
      { name: '*.lab', port: '*' },
      { name: 'x', port: '1' },
    ]);
  });

  it('parses from=, expiry-time (earliest wins) and no-port-forwarding', () => {
    const entry = onlyEntry(
      keyLine(
        'from="10.0.0.0/8,!10.0.0.5",expiry-time="20310101Z",expiry-time="20300101Z",no-port-forwarding',
      ),
    );
    assert.equal(entry.from?.text, '10.0.0.0/8,!10.0.0.5');
    assert.equal(entry.from?.patterns.length, 2);
    assert.equal(entry.expiresAt, Date.parse('2030-01-01T00:00:00Z'));
    assert.equal(entry.noPortForwarding, true);
  });

  it('accepts and ignores the session options', () => {
    const entry = onlyEntry(
      keyLine(
        'restrict,pty,no-pty,agent-forwarding,no-agent-forwarding,X11-forwarding,' +
          'no-X11-forwarding,port-forwarding,no-user-rc,user-rc,no-touch-required,' +
          'verify-required,command="nc -U /x/dev1.sock",environment="LANG=C",tunnel="7",' +
          'permitlisten="dev1:22"',
      ),
    );
    assert.deepEqual(entry.listen, [{ name: 'dev1', port: '22' }]);
    assert.equal(entry.noPortForwarding, false);
    assert.equal(entry.from, undefined);
    assert.equal(entry.expiresAt, undefined);
  });

  it('keeps every line of a key that appears several times, in file order', () => {
    const text = [keyLine('from="10.0.0.0/8"', 'a'), keyLine('', 'b'), keyLine('', 'a')].join('\n');
    const { entries } = parseAuthorizedKeys(text, 'k');
    assert.deepEqual(
      entries.map((e) => [e.line, e.keyBlob.equals(A)]),
      [
        [1, true],
        [2, false],
        [3, true],
      ],
    );
  });

  it('reads CRLF files', () => {
    const text = `${keyLine('permitopen="dev1:22"', 'a', 'c')}\r\n${keyLine('', 'b')}\r\n`;
    const { entries, errors } = parseAuthorizedKeys(text, 'k');
    assert.deepEqual(errors, []);
    assert.equal(entries.length, 2);
    assert.equal(entries[0]!.comment, 'c');
    assert.deepEqual(entries[0]!.open, [{ name: 'dev1', port: '22' }]);
  });
});

describe('parseAuthorizedKeys: line errors', () => {
  const cases: [options: string, message: string][] = [
    ['permitopn="dev1:22"', 'unknown option "permitopn"'],
    ['permitlisten="dev1"', 'permitlisten="dev1" needs NAME:PORT'],
    ['permitlisten=":22"', 'permitlisten=":22" has an empty name'],
    ['permitopen="dev1:http"', 'permitopen="dev1:http" has a bad port'],
    ['permitopen="dev1:0"', 'permitopen="dev1:0" has a bad port'],
    ['from="10.0.0.1/8"', 'from=: "10.0.0.1/8" has bits set after the /8 prefix'],
    ['from="10.0.0.0/40"', 'from=: "10.0.0.0/40" is not a valid CIDR block'],
    [
      'from="gw.example.com"',
      'from=: "gw.example.com" is a host name; burrow matches source addresses only',
    ],
    ['from="10.0.0.1",from="10.0.0.2"', 'more than one from= option'],
    ['command="a",command="b"', 'more than one command= option'],
    ['expiry-time="20301301"', 'expiry-time="20301301" is not a valid YYYYMMDD[HHMM[SS]][Z]'],
    ['expiry-time="tomorrow"', 'expiry-time="tomorrow" is not a valid YYYYMMDD[HHMM[SS]][Z]'],
    ['environment="NOEQUALS"', 'environment="NOEQUALS" needs NAME=value'],
    ['environment="BAD-NAME=x"', 'environment="BAD-NAME=x" needs NAME=value'],
    ['tunnel="tun0"', 'tunnel="tun0" is not "any" or a device number'],
    [
      'cert-authority,permitlisten="*:*"',
      'cert-authority: burrow does not support certificates; this line authorises nothing',
    ],
    [
      'principals="root",permitopen="dev1:22"',
      'principals= is only valid with cert-authority, so sshd would refuse this key too',
    ],
    ['command="unterminated', 'unterminated quote in options'],
    ['no-pty,', 'options list ends with ","'],
  ];
  for (const [options, message] of cases) {
    it(`refuses ${options}`, () => {
      assert.equal(errorFor(`\n\n${keyLine(options)}`), `keys.txt:3: ${message}`);
    });
  }

  it('skips bad lines, keeps the rest, and numbers each error by its line', () => {
    const text = [
      '# burrow policy', // 1
      keyLine('permitlisten="dev1:22"', 'a'), // 2
      keyLine('permitopn="dev1:22"', 'b'), // 3
      '', // 4
      'ssh-ed25519 AAAAnotbase64!', // 5
      keyLine('cert-authority', 'a'), // 6
      keyLine('permitopen="dev1:22"', 'b'), // 7
      'ssh-ed25519', // 8
    ].join('\n');
    const { entries, errors } = parseAuthorizedKeys(text, 'keys.txt');
    assert.deepEqual(
      entries.map((e) => e.line),
      [2, 7],
    );
    assert.deepEqual(
      errors.map((e) => [e.file, e.line, e.message]),
      [
        ['keys.txt', 3, 'keys.txt:3: unknown option "permitopn"'],
        ['keys.txt', 5, 'keys.txt:5: key data is not valid base64'],
        [
          'keys.txt',
          6,
          'keys.txt:6: cert-authority: burrow does not support certificates; this line authorises nothing',
        ],
        ['keys.txt', 8, 'keys.txt:8: no key data after "ssh-ed25519"'],
      ],
    );
    assert.equal(errors[0]!.reason, 'unknown option "permitopn"');
  });

  it('never lets a cert-authority line authorise its raw key', () => {
    const { entries } = parseAuthorizedKeys(keyLine('cert-authority', 'a'), 'k');
    assert.deepEqual(authorize(entries, A, '10.0.0.1', NOW), { ok: false, reason: 'unknown-key' });
  });

  it('turns a line error into a typed BurrowError', () => {
    const { errors } = parseAuthorizedKeys(keyLine('bogus'), 'keys.txt');
    const err = policyLineError(errors[0]!);
    assert.equal(err.code, 'POLICY_LINE_INVALID');
    assert.equal(err.message, 'keys.txt:1: unknown option "bogus"');
  });
});

describe('index', () => {
  it('re-exports the public API', () => {
    for (const name of [
      'parseAuthorizedKeys',
      'authorize',
      'mayListen',
      'mayOpen',
      'policyLineError',
      'fingerprint',
      'parseKeyLine',
      'matchGlob',
      'matchAddressList',
      'parseAddressPatternList',
      'parseRoutePattern',
      'parseExpiryTime',
    ]) {
      assert.equal(typeof (api as Record<string, unknown>)[name], 'function', name);
    }
  });
});
