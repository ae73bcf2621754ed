import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { blobFor } from '../../test/fixtures/testkeys.js';
import { isBurrowError } from '../core/errors.js';
import { knownHostsLine } from '../core/known-hosts.js';
import { fingerprint } from '../core/policy/keys.js';
import { type HostKeyDecision, hostKeyTrust } from './host-trust.js';

const A = blobFor('ssh-ed25519', 'a');
const B = blobFor('ssh-ed25519', 'b');
const R = blobFor('ssh-rsa', 'r');
const line = (type: string, blob: Buffer) => `${type} ${blob.toString('base64')}`;
const root = mkdtempSync(join(tmpdir(), 'burrow-host-trust-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
/** A fresh directory under the test's temp dir. */
const freshDir = () => {
  const dir = join(root, String(dirs++));
  mkdirSync(dir);
  return dir;
};

/** Checks shape and, for refusals, that the message is one line naming the offered key. */
function expectDecision(got: HostKeyDecision, want: HostKeyDecision | string, key: Buffer) {
  if (typeof want !== 'string') return assert.deepEqual(got, want);
  assert.equal(got.ok, false);
  if (got.ok) return;
  assert.equal(got.reason, want);
  assert.doesNotMatch(got.message, /\n/);
  assert.ok(got.message.includes(fingerprint(key)), got.message);
}

describe('hostKeyTrust with --relay-host-key', () => {
  const ok = { ok: true, recorded: false } as const;
  /** name, pins, offered key, decision (a reason string = refusal), message pattern */
  const cases: [string, string[], Buffer, HostKeyDecision | string, RegExp?][] = [
    ['key line', [line('ssh-ed25519', A)], A, ok],
    ['key line with comment and blanks', [`  ${line('ssh-rsa', R)} relay key `], R, ok],
    ['fingerprint', [fingerprint(A)], A, ok],
    ['any of several', [fingerprint(B), line('ssh-ed25519', A)], A, ok],
    [
      'other key',
      [line('ssh-ed25519', A), fingerprint(R)],
      B,
      'mismatch',
      /^relay h:2222 presented host key SHA256:\S+, which does not match --relay-host-key \(SHA256:\S+, SHA256:\S+\): if the relay's key really changed, update --relay-host-key$/,
    ],
  ];
  for (const [name, pinned, key, want, message] of cases) {
    it(name, () => {
      // known_hosts says otherwise; pins alone decide.
      const knownHostsFile = join(freshDir(), 'known_hosts');
      writeFileSync(knownHostsFile, `[h]:2222 ${line('ssh-ed25519', B)}\n`);
      const trust = hostKeyTrust({ pinned, knownHostsFile, acceptNew: true });
      assert.match(trust.describe, /^(pinned key|\d pinned keys)$/);
      const got = trust.check('h', 2222, key);
      expectDecision(got, want, key);
      if (message && !got.ok) assert.match(got.message, message);
    });
  }

  const longJunk = `ssh-ed25519 ${'Q'.repeat(300)}`;
  const bad: [string, string[], RegExp][] = [
    ['empty', [''], /is empty/],
    ['short fingerprint', ['SHA256:abc'], /not a SHA256 fingerprint/],
    ['fingerprint with stray bits', [`SHA256:${'A'.repeat(42)}B`], /not a SHA256 fingerprint/],
    ['MD5 fingerprint', ['MD5:12:34:56'], /MD5 fingerprints are not accepted/],
    ['unsupported type', [`ssh-dss ${A.toString('base64')}`], /expected a public key line/],
    ['private key', ['-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE'], /expected/],
    ['missing data', ['ssh-ed25519'], /no key data after "ssh-ed25519"/],
    ['bad base64', ['ssh-ed25519 AAAA!!!!'], /not valid base64/],
    ['wrong type', [line('ssh-rsa', A)], /line says "ssh-rsa"/],
    ['long junk', [longJunk], /not valid base64|malformed/],
    ['bad after a good one', [fingerprint(A), 'nope'], /"nope": expected/],
  ];
  for (const [name, pinned, message] of bad) {
    it(`refuses ${name} naming the flag`, () => {
      assert.throws(
        () => hostKeyTrust({ pinned, knownHostsFile: '/nonexistent', acceptNew: false }),
        (err) => {
          assert.ok(isBurrowError(err) && err.code === 'CONFIG_INVALID');
          assert.match(err.message, /^--relay-host-key "/);
          assert.match(err.message, message);
          assert.ok(!err.message.includes('Q'.repeat(41)), 'echoed more than 40 characters');
          assert.ok(!err.message.includes('b3BlbnNzaC1rZXk'), 'echoed private key material');
          return true;
        },
      );
    });
  }
});

describe('hostKeyTrust with known_hosts', () => {
  const ok = { ok: true, recorded: false } as const;
  const edA = line('ssh-ed25519', A);
  /** name, file content (undefined = no file), accept-new, offered key, decision, message */
  const cases: [string, string | undefined, boolean, Buffer, HostKeyDecision | string, RegExp?][] =
    [
      ['match', `[h]:2222 ${edA}\n`, false, A, ok],
      ['match despite a malformed line', `junk\n[h]:2222 ${edA}\n`, false, A, ok],
      [
        'unknown',
        `other ${edA}\n`,
        false,
        A,
        'unknown',
        /^relay h:2222 host key SHA256:\S+ is not known: pin it with --relay-host-key, add it to \S+known_hosts, or pass --accept-new to trust it on first use$/,
      ],
      ['missing file is unknown', undefined, false, A, 'unknown', /is not known/],
      [
        'mismatch',
        `[h]:2222 ${edA}\n`,
        false,
        B,
        'mismatch',
        /^relay h:2222 presented host key SHA256:\S+, which does not match the key on file in \S+known_hosts \(SHA256:\S+\): if the relay's key really changed, remove the old line from \S+known_hosts \(ssh-keygen -R "\[h\]:2222" -f \S+\)$/,
      ],
      ['mismatch with accept-new', `[h]:2222 ${edA}\n`, true, B, 'mismatch'],
      ['revoked', `@revoked * ${edA}\n[h]:2222 ${edA}\n`, false, A, 'revoked', /@revoked in /],
      ['revoked with accept-new', `@revoked * ${edA}\n`, true, A, 'revoked'],
    ];
  for (const [name, content, acceptNew, key, want, message] of cases) {
    it(name, () => {
      const knownHostsFile = join(freshDir(), 'known_hosts');
      if (content !== undefined) writeFileSync(knownHostsFile, content);
      const trust = hostKeyTrust({ pinned: [], knownHostsFile, acceptNew });
      const got = trust.check('h', 2222, key);
      expectDecision(got, want, key);
      if (message && !got.ok) assert.match(got.message, message);
      if (content !== undefined) assert.equal(readFileSync(knownHostsFile, 'utf8'), content);
    });
  }

  it('describes its source', () => {
    const base = { pinned: [], knownHostsFile: '/x/known_hosts' };
    assert.equal(
      hostKeyTrust({ ...base, acceptNew: false }).describe,
      'known_hosts /x/known_hosts',
    );
    assert.equal(
      hostKeyTrust({ ...base, acceptNew: true }).describe,
      'known_hosts /x/known_hosts (accept-new)',
    );
  });

  it('accept-new records an unknown key once (0600 file in a new 0700 dir), then matches', () => {
    const dir = join(freshDir(), 'new');
    const knownHostsFile = join(dir, 'known_hosts');
    const trust = hostKeyTrust({ pinned: [], knownHostsFile, acceptNew: true });
    assert.deepEqual(trust.check('h', 2222, A), { ok: true, recorded: true });
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(knownHostsFile).mode & 0o777, 0o600);
    const want = `${knownHostsLine('h', 2222, A)}\n`;
    assert.equal(readFileSync(knownHostsFile, 'utf8'), want);
    assert.deepEqual(trust.check('h', 2222, A), { ok: true, recorded: false });
    expectDecision(trust.check('h', 2222, B), 'mismatch', B);
    assert.equal(readFileSync(knownHostsFile, 'utf8'), want);
  });

  it('accept-new starts a fresh line when the file does not end in a newline', () => {
    const knownHostsFile = join(freshDir(), 'known_hosts');
    writeFileSync(knownHostsFile, `other ${edA}`);
    const trust = hostKeyTrust({ pinned: [], knownHostsFile, acceptNew: true });
    assert.deepEqual(trust.check('h', 22, B), { ok: true, recorded: true });
    const text = readFileSync(knownHostsFile, 'utf8');
    assert.equal(text, `other ${edA}\n${knownHostsLine('h', 22, B)}\n`);
  });

  it('an unreadable file refuses as unknown, naming the file and errno, even with accept-new', () => {
    const knownHostsFile = join(freshDir(), 'known_hosts');
    mkdirSync(knownHostsFile); // reading a directory fails with EISDIR, even for root
    const trust = hostKeyTrust({ pinned: [], knownHostsFile, acceptNew: true });
    const got = trust.check('h', 2222, A);
    expectDecision(got, 'unknown', A);
    assert.ok(!got.ok && got.message.includes(`cannot read ${knownHostsFile} (EISDIR)`));
  });
});
