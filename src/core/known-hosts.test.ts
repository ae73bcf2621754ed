import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { blobFor } from '../../test/fixtures/testkeys.js';
import {
  checkHostKey,
  type HostKeyVerdict,
  keyTypeOf,
  knownHostsLine,
  knownHostsName,
  parseKnownHosts,
} from './known-hosts.js';
import { fingerprint } from './policy/keys.js';

const A = blobFor('ssh-ed25519', 'a');
const B = blobFor('ssh-ed25519', 'b');
const R = blobFor('ssh-rsa', 'r');
const ed = (blob: Buffer) => `ssh-ed25519 ${blob.toString('base64')}`;
const rsa = `ssh-rsa ${R.toString('base64')}`;

/** A hashed host field computed independently of the code under test's parser. */
function hashed(name: string, salt = Buffer.alloc(20, 7)): string {
  const mac = createHmac('sha1', salt).update(name).digest('base64');
  return `|1|${salt.toString('base64')}|${mac}`;
}

describe('knownHostsName', () => {
  const cases: [string, number, string][] = [
    ['127.0.0.1', 22, '127.0.0.1'],
    ['127.0.0.1', 2222, '[127.0.0.1]:2222'],
    ['relay.example', 22, 'relay.example'],
    ['Relay.Example', 443, '[relay.example]:443'],
    ['::1', 22, '::1'],
    ['::1', 2222, '[::1]:2222'],
  ];
  for (const [host, port, want] of cases) {
    it(`${host} port ${port} → ${want}`, () => assert.equal(knownHostsName(host, port), want));
  }
});

describe('parseKnownHosts', () => {
  const cases: {
    name: string;
    text: string;
    entries: { line: number; marker?: string; kind: string; comment?: string }[];
    errors: { line: number; message: RegExp }[];
  }[] = [
    {
      name: 'blank lines, comments and CRLF are skipped',
      text: `\n# a comment\n   \n\t# indented\r\nhost ${ed(A)}\r\n`,
      entries: [{ line: 5, kind: 'patterns' }],
      errors: [],
    },
    {
      name: 'comment after the key is kept',
      text: `a,b ${ed(A)} relay  key`,
      entries: [{ line: 1, kind: 'patterns', comment: 'relay key' }],
      errors: [],
    },
    {
      name: 'markers and hashed names',
      text: `@revoked * ${ed(A)}\n@cert-authority *.example ${ed(B)}\n${hashed('h')} ${rsa}`,
      entries: [
        { line: 1, marker: 'revoked', kind: 'patterns' },
        { line: 2, marker: 'cert-authority', kind: 'patterns' },
        { line: 3, kind: 'hashed' },
      ],
      errors: [],
    },
    {
      name: 'bad lines are reported and the rest still loads',
      text: [
        `@trusted h ${ed(A)}`,
        'h',
        `h ssh-dss ${A.toString('base64')}`,
        'h ssh-ed25519',
        'h ssh-ed25519 AAAA!!!!',
        `h ssh-rsa ${A.toString('base64')}`,
        `${ed(A)} comment`,
        '@revoked',
        `|1|AAAA|BBBB ${ed(A)}`,
        `|2|${Buffer.alloc(20).toString('base64')}|${Buffer.alloc(20).toString('base64')} ${ed(A)}`,
        `ok ${ed(B)}`,
      ].join('\n'),
      entries: [{ line: 11, kind: 'patterns' }],
      errors: [
        { line: 1, message: /unknown marker "@trusted"/ },
        { line: 2, message: /no key after the host names/ },
        { line: 3, message: /unsupported key type "ssh-dss"/ },
        { line: 4, message: /no key data after "ssh-ed25519"/ },
        { line: 5, message: /not valid base64/ },
        { line: 6, message: /line says "ssh-rsa"/ },
        { line: 7, message: /no host names before the key type/ },
        { line: 8, message: /no host names after the marker/ },
        { line: 9, message: /hashed host name .* is malformed/ },
        { line: 10, message: /hashed host name .* is malformed/ },
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = parseKnownHosts(c.text, '/k');
      assert.deepEqual(
        got.entries.map((e) => ({
          line: e.line,
          kind: e.names.kind,
          ...(e.marker ? { marker: e.marker } : {}),
          ...(e.comment ? { comment: e.comment } : {}),
        })),
        c.entries,
      );
      for (const e of got.entries) assert.equal(e.source, '/k');
      assert.deepEqual(
        got.errors.map((e) => e.line),
        c.errors.map((e) => e.line),
      );
      got.errors.forEach((e, i) => {
        assert.match(e.message, c.errors[i]!.message);
      });
    });
  }

  it('keeps the key type and blob', () => {
    const [entry] = parseKnownHosts(`h ${rsa}`, 'x').entries;
    assert.equal(entry?.keyType, 'ssh-rsa');
    assert.deepEqual(entry?.keyBlob, R);
  });
});

describe('checkHostKey', () => {
  const M: HostKeyVerdict = { kind: 'match' };
  const U: HostKeyVerdict = { kind: 'unknown' };
  const RV: HostKeyVerdict = { kind: 'revoked' };
  const mismatch = (...keys: Buffer[]): HostKeyVerdict => ({
    kind: 'mismatch',
    known: keys.map(fingerprint),
  });
  /** name, known_hosts lines, host, port, offered key, verdict */
  const cases: [string, string[], string, number, Buffer, HostKeyVerdict][] = [
    ['empty file', [], 'h', 22, A, U],
    ['plain name', [`h ${ed(A)}`], 'h', 22, A, M],
    ['names ignore case', [`H.Example ${ed(A)}`], 'h.EXAMPLE', 22, A, M],
    ['other host', [`h ${ed(A)}`], 'g', 22, A, U],
    ['one of a list', [`x,h,y ${ed(A)}`], 'h', 22, A, M],
    ['[host]:port', [`[h]:2222 ${ed(A)}`], 'h', 2222, A, M],
    ['bare name does not cover another port', [`h ${ed(A)}`], 'h', 2222, A, U],
    ['[host]:port does not cover another port', [`[h]:2222 ${ed(A)}`], 'h', 2223, A, U],
    ['[host]:22 is never looked up', [`[h]:22 ${ed(A)}`], 'h', 22, A, U],
    ['* glob', [`*.example ${ed(A)}`], 'r.example', 22, A, M],
    ['? glob', [`10.0.0.? ${ed(A)}`], '10.0.0.7', 22, A, M],
    ['? is one character', [`10.0.0.? ${ed(A)}`], '10.0.0.17', 22, A, U],
    ['glob over [host]:port', [`[h]:* ${ed(A)}`], 'h', 2222, A, M],
    ['negation removes the line', [`*.example,!bad.example ${ed(A)}`], 'bad.example', 22, B, U],
    ['negation spares others', [`*.example,!bad.example ${ed(A)}`], 'ok.example', 22, A, M],
    ['negation alone never applies', [`!bad ${ed(A)}`], 'good', 22, A, U],
    ['different key', [`h ${ed(A)}`], 'h', 22, B, mismatch(A)],
    ['any key type on file counts', [`h ${rsa}`], 'h', 22, A, mismatch(R)],
    ['one of several keys', [`h ${rsa}`, `h ${ed(A)}`], 'h', 22, A, M],
    [
      'each key listed once',
      [`h ${ed(A)}`, `h ${rsa}`, `h,g ${ed(A)}`],
      'h',
      22,
      B,
      mismatch(A, R),
    ],
    ['revoked', [`@revoked h ${ed(A)}`], 'h', 22, A, RV],
    ['revoked wins over a match', [`h ${ed(A)}`, `@revoked * ${ed(A)}`], 'h', 22, A, RV],
    ['revoked for another host', [`@revoked g ${ed(A)}`, `h ${ed(A)}`], 'h', 22, A, M],
    ['revoking another key', [`@revoked h ${ed(B)}`], 'h', 22, A, U],
    ['revoked lines are not keys on file', [`@revoked h ${ed(B)}`, `h ${ed(A)}`], 'h', 22, A, M],
    ['cert-authority never matches', [`@cert-authority * ${ed(A)}`], 'h', 22, A, U],
    [
      'cert-authority is not a key on file',
      [`@cert-authority * ${ed(B)}`, `h ${ed(A)}`],
      'h',
      22,
      A,
      M,
    ],
    ['hashed name', [`${hashed('h')} ${ed(A)}`], 'h', 22, A, M],
    ['hashed [host]:port', [`${hashed('[h]:2222')} ${ed(A)}`], 'H', 2222, A, M],
    ['hashed other name', [`${hashed('h')} ${ed(A)}`], 'h', 2222, A, U],
    ['hashed mismatch', [`${hashed('h')} ${ed(A)}`], 'h', 22, B, mismatch(A)],
    ['hashed revoked', [`@revoked ${hashed('h')} ${ed(A)}`], 'h', 22, A, RV],
    ['malformed lines are skipped', ['h ssh-ed25519 AAAA', `h ${ed(A)}`], 'h', 22, A, M],
  ];
  for (const [name, lines, host, port, key, want] of cases) {
    it(name, () => {
      const { entries } = parseKnownHosts(lines.join('\n'), 'k');
      assert.deepEqual(checkHostKey(entries, host, port, key), want);
    });
  }
});

describe('knownHostsLine', () => {
  const cases: [string, number, Buffer, string][] = [
    ['h', 22, A, `h ${ed(A)}`],
    ['127.0.0.1', 2222, R, `[127.0.0.1]:2222 ${rsa}`],
  ];
  for (const [host, port, key, want] of cases) {
    it(`${host}:${port} → ${want.slice(0, 30)}…, which checkHostKey matches`, () => {
      const line = knownHostsLine(host, port, key);
      assert.equal(line, want);
      const { entries, errors } = parseKnownHosts(line, 'k');
      assert.deepEqual(errors, []);
      assert.deepEqual(checkHostKey(entries, host, port, key), { kind: 'match' });
    });
  }
  it('refuses a blob that is not a supported key', () => {
    assert.equal(keyTypeOf(Buffer.from('nonsense')), undefined);
    assert.throws(() => knownHostsLine('h', 22, Buffer.from([0, 0, 0, 7, 1])), /not a supported/);
  });
});

describe('checkHostKey against OpenSSH', () => {
  it('agrees with ssh-keygen -H and -F on a hashed file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'burrow-known-hosts-'));
    try {
      const keyOf = (name: string): Buffer => {
        const path = join(dir, name);
        try {
          execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', path]);
        } catch (err) {
          throw new Error(`ssh-keygen (package openssh-client) is needed: ${String(err)}`);
        }
        const [, data] = readFileSync(`${path}.pub`, 'utf8').split(' ');
        return Buffer.from(data!, 'base64');
      };
      const k1 = keyOf('k1');
      const k2 = keyOf('k2');
      const file = join(dir, 'known_hosts');
      writeFileSync(file, `127.0.0.1 ${ed(k1)}\n[127.0.0.1]:2222 ${ed(k2)}\n`);
      execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });

      const text = readFileSync(file, 'utf8');
      assert.doesNotMatch(text, /127\.0\.0\.1/, 'ssh-keygen -H left a plain name');
      const { entries, errors } = parseKnownHosts(text, file);
      assert.deepEqual(errors, []);
      assert.equal(entries.length, 2);

      const cases: [string, number, Buffer, HostKeyVerdict][] = [
        ['127.0.0.1', 22, k1, { kind: 'match' }],
        ['127.0.0.1', 2222, k2, { kind: 'match' }],
        ['127.0.0.1', 22, k2, { kind: 'mismatch', known: [fingerprint(k1)] }],
        ['127.0.0.1', 2222, k1, { kind: 'mismatch', known: [fingerprint(k2)] }],
        ['127.0.0.1', 2200, k1, { kind: 'unknown' }],
        ['127.0.0.2', 22, k1, { kind: 'unknown' }],
      ];
      for (const [host, port, key, want] of cases) {
        const name = knownHostsName(host, port);
        assert.deepEqual(checkHostKey(entries, host, port, key), want, name);
        // ssh-keygen -F finds a line for the name exactly when burrow says the host is known.
        const found = spawnSync('ssh-keygen', ['-F', name, '-f', file]).status === 0;
        assert.equal(found, want.kind !== 'unknown', `ssh-keygen -F ${name}`);
      }
      const listed = execFileSync('ssh-keygen', ['-lf', join(dir, 'k1.pub')], { encoding: 'utf8' });
      assert.equal(listed.split(' ')[1], fingerprint(k1));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
