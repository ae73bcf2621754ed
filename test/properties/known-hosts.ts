/** Properties of the known_hosts parser and host key check (src/core/known-hosts.ts). */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  checkHostKey,
  knownHostsLine,
  knownHostsName,
  parseKnownHosts,
} from '../../src/core/known-hosts.js';
import { anyText, deviceName, hashedHostName, keyBlob, lines, soup } from './arbitraries.js';
import { type FuzzProperty, MAX_MESSAGE } from './property.js';

const SUBJECT = 'core/known-hosts.ts';

const WORDS = [
  ' ',
  '\t',
  ',',
  '!',
  '*',
  '?',
  '[',
  ']:2222',
  '#',
  '@revoked',
  '@cert-authority',
  '@bogus',
  '|1|',
  '|1|AAAAAAAAAAAAAAAAAAAAAAAAAAA=|AAAAAAAAAAAAAAAAAAAAAAAAAAA=',
  '|1|x|y',
  'relay.example',
  '127.0.0.1',
  'ssh-ed25519',
  'ssh-rsa',
  'ssh-dss',
  'AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl',
  'AAAA',
];

const port = fc.oneof(fc.constant(22), fc.integer({ min: 1, max: 65535 }));

export const knownHostsProperties: FuzzProperty[] = [
  {
    subject: SUBJECT,
    name: 'parseKnownHosts never throws, and checkHostKey answers for whatever it parsed',
    runs: 300,
    property: () =>
      fc.property(
        lines(fc.oneof(soup(WORDS), anyText)),
        deviceName,
        port,
        keyBlob,
        (text, host, p, k) => {
          const { entries, errors } = parseKnownHosts(text, 'known_hosts');
          assert.ok(entries.length + errors.length <= text.split('\n').length);
          for (const e of errors) assert.ok(e.message.length <= MAX_MESSAGE, e.message);
          const verdict = checkHostKey(entries, host, p, k.blob);
          assert.ok(['match', 'unknown', 'mismatch', 'revoked'].includes(verdict.kind));
        },
      ),
  },
  {
    subject: SUBJECT,
    name: 'a line knownHostsLine wrote matches its host and port, and only its key',
    runs: 200,
    property: () =>
      fc.property(deviceName, port, keyBlob, keyBlob, (host, p, key, other) => {
        const { entries, errors } = parseKnownHosts(knownHostsLine(host, p, key.blob), 'kh');
        assert.deepEqual(errors, []);
        assert.deepEqual(checkHostKey(entries, host.toUpperCase(), p, key.blob), { kind: 'match' });
        if (!other.blob.equals(key.blob)) {
          assert.equal(checkHostKey(entries, host, p, other.blob).kind, 'mismatch');
        }
        const otherPort = p === 22 ? 2222 : 22;
        assert.equal(checkHostKey(entries, host, otherPort, key.blob).kind, 'unknown');
      }),
  },
  {
    subject: SUBJECT,
    name: 'a hashed line matches exactly the name it hashes; @revoked wins over a match',
    runs: 200,
    property: () =>
      fc.property(
        deviceName,
        port,
        keyBlob,
        fc.uint8Array({ minLength: 20, maxLength: 20 }),
        (host, p, key, salt) => {
          const hashed = hashedHostName(Buffer.from(salt), knownHostsName(host, p));
          const line = `${hashed} ${key.type} ${key.blob.toString('base64')}`;
          const { entries, errors } = parseKnownHosts(line, 'kh');
          assert.deepEqual(errors, []);
          assert.equal(checkHostKey(entries, host, p, key.blob).kind, 'match');
          assert.equal(checkHostKey(entries, `x${host}`, p, key.blob).kind, 'unknown');
          const revoked = parseKnownHosts(`${line}\n@revoked ${line}`, 'kh');
          assert.equal(checkHostKey(revoked.entries, host, p, key.blob).kind, 'revoked');
        },
      ),
  },
];
