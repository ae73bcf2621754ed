import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blobFor, keyLine } from '../../../test/fixtures/testkeys.js';
import { buildKeyLine, describePermits, type Permits, parsePublicKey } from './key-line.js';
import { fingerprint } from './keys.js';
import { parseAuthorizedKeys } from './policy.js';

const PUB = keyLine('', 'k', 'alice@laptop');

describe('parsePublicKey', () => {
  const accepted: [string, string][] = [
    ['a .pub line', `${PUB}\n`],
    ['blank lines around it', `\n\n${PUB}\r\n\n`],
    ['no comment', keyLine('', 'k')],
    ['rsa', keyLine('', 'k', '', 'ssh-rsa')],
  ];
  for (const [name, text] of accepted) {
    it(`accepts ${name}`, () => {
      const r = parsePublicKey(text);
      assert.ok(r.ok, JSON.stringify(r));
    });
  }
  it('returns type, blob, fingerprint and comment', () => {
    const r = parsePublicKey(PUB);
    assert.ok(r.ok);
    assert.equal(r.key.keyType, 'ssh-ed25519');
    assert.deepEqual(r.key.keyBlob, blobFor('ssh-ed25519', 'k'));
    assert.equal(r.key.fingerprint, fingerprint(blobFor('ssh-ed25519', 'k')));
    assert.equal(r.key.comment, 'alice@laptop');
  });

  const refused: [string, string, RegExp][] = [
    [
      'a private key',
      '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA=\n-----END OPENSSH PRIVATE KEY-----\n',
      /private key/,
    ],
    ['a PEM private key', '-----BEGIN RSA PRIVATE KEY-----\nMIIB\n', /private key/],
    ['empty input', '', /no public key/],
    ['only a comment', '# nothing\n', /no public key/],
    ['two keys', `${PUB}\n${keyLine('', 'j')}\n`, /2 keys/],
    ['garbage', 'hello world\n', /not a key line/],
    ['bad base64', 'ssh-ed25519 AAAA$$$$ x\n', /base64/],
    [
      'a truncated key',
      `ssh-ed25519 ${blobFor('ssh-ed25519').toString('base64').slice(0, 40)}`,
      /./,
    ],
    ['unknown type', 'ssh-dss AAAAB3NzaC1kc3MAAACBAP1\n', /unsupported key type/],
    ['options', `permitopen="a:1" ${PUB}`, /no options/],
  ];
  for (const [name, text, message] of refused) {
    it(`refuses ${name}`, () => {
      const r = parsePublicKey(text);
      assert.equal(r.ok, false);
      assert.match((r as { message: string }).message, message);
    });
  }
});

describe('buildKeyLine', () => {
  const pub = parsePublicKey(PUB);
  assert.ok(pub.ok);
  const key = pub.key;
  const b64 = blobFor('ssh-ed25519', 'k').toString('base64');

  const built: [string, Permits, string, string][] = [
    [
      'one listen',
      { listen: ['dev1:22'], open: [] },
      `permitlisten="dev1:22" ssh-ed25519 ${b64} alice@laptop`,
      'listen dev1:22',
    ],
    [
      'globs, several of each',
      { listen: ['dev1:22', 'dev1:80'], open: ['*:22', 'rack?-*:*'] },
      `permitlisten="dev1:22",permitlisten="dev1:80",permitopen="*:22",permitopen="rack?-*:*" ssh-ed25519 ${b64} alice@laptop`,
      'listen dev1:22 dev1:80, open *:22 rack?-*:*',
    ],
    [
      'from and expiry',
      { listen: [], open: ['*:22'], from: '10.0.0.0/8,!10.0.0.1', expiry: '20301231Z' },
      `permitopen="*:22",from="10.0.0.0/8,!10.0.0.1",expiry-time="20301231Z" ssh-ed25519 ${b64} alice@laptop`,
      'open *:22, from 10.0.0.0/8,!10.0.0.1, until 2030-12-31T00:00:00.000Z',
    ],
  ];
  for (const [name, permits, line, words] of built) {
    it(`builds ${name}, which the relay loads with the same permits`, () => {
      const r = buildKeyLine(key, permits);
      assert.ok(r.ok, JSON.stringify(r));
      assert.equal(r.line, line);
      assert.equal(describePermits(r.entry), words);
      const { entries, errors } = parseAuthorizedKeys(r.line, 'f');
      assert.deepEqual(errors, []);
      assert.equal(describePermits(entries[0]!), words);
    });
  }

  const refused: [string, Permits, string, RegExp][] = [
    ['nothing to do', { listen: [], open: [] }, '--listen/--open', /at least one/],
    ['a listen without port', { listen: ['dev1'], open: [] }, '--listen', /NAME:PORT/],
    ['a quote in a name', { listen: [], open: ['a"b:22'] }, '--open', /names use/],
    ['port 0', { listen: [], open: ['dev1:0'] }, '--open', /bad port/],
    [
      'a host name in from',
      { listen: ['a:1'], open: [], from: 'example.com' },
      '--from',
      /host name/,
    ],
    ['a CIDR with host bits', { listen: ['a:1'], open: [], from: '10.0.0.1/8' }, '--from', /bits/],
    ['a bad expiry', { listen: ['a:1'], open: [], expiry: '20301301' }, '--expiry', /YYYYMMDD/],
    ['an expiry with a quote', { listen: ['a:1'], open: [], expiry: '2030"' }, '--expiry', /valid/],
  ];
  for (const [name, permits, flag, message] of refused) {
    it(`refuses ${name}, naming ${flag}`, () => {
      const r = buildKeyLine(key, permits);
      assert.equal(r.ok, false);
      assert.equal((r as { flag: string }).flag, flag);
      assert.match((r as { message: string }).message, message);
    });
  }
});
