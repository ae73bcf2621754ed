import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { blobFor, seededBytes, sshStrings } from '../../../test/fixtures/testkeys.js';
import { decodeKey, fingerprint, isKeyType, KEY_TYPES, type KeyType } from './keys.js';
import { parseAuthorizedKeys } from './policy.js';

const b64 = (b: Buffer) => b.toString('base64');

describe('isKeyType', () => {
  it('accepts exactly the supported names, case-sensitively', () => {
    for (const type of KEY_TYPES) assert.equal(isKeyType(type), true, type);
    for (const word of ['SSH-ED25519', 'ssh-dss', 'ssh-ed25519-cert-v01@openssh.com', '', 'rsa']) {
      assert.equal(isKeyType(word), false, word);
    }
  });
});

describe('decodeKey', () => {
  for (const type of KEY_TYPES) {
    it(`accepts a well-formed ${type} blob and returns its bytes`, () => {
      const blob = blobFor(type);
      const result = decodeKey(type, b64(blob));
      assert.deepEqual(result, { ok: true, blob });
    });
  }

  const ed = blobFor('ssh-ed25519');
  const cases: { name: string; type: KeyType; data: string; message: string }[] = [
    { name: 'not base64', type: 'ssh-ed25519', data: 'AAAA!!!!', message: 'not valid base64' },
    {
      name: 'unpadded base64',
      type: 'sk-ssh-ed25519@openssh.com',
      data: b64(blobFor('sk-ssh-ed25519@openssh.com')).replace(/=+$/, ''),
      message: 'not valid base64',
    },
    // "AAAAC3Nz" plus a final quantum whose unused bits are not zero.
    { name: 'stray bits', type: 'ssh-ed25519', data: 'AAAAC3Nzab==', message: 'not valid base64' },
    {
      name: 'type mismatch',
      type: 'ssh-rsa',
      data: b64(ed),
      message: 'key data is a "ssh-ed25519" key but the line says "ssh-rsa"',
    },
    {
      name: 'truncated',
      type: 'ssh-ed25519',
      data: b64(ed.subarray(0, ed.length - 4)),
      message: 'malformed',
    },
    {
      name: 'length prefix past the end',
      type: 'ssh-ed25519',
      data: b64(Buffer.from([0, 0, 0, 99, 1, 2])),
      message: 'malformed',
    },
    {
      name: 'trailing data',
      type: 'ssh-ed25519',
      data: b64(Buffer.concat([ed, sshStrings('extra')])),
      message: 'ed25519 key data is malformed',
    },
    {
      name: 'short ed25519 key',
      type: 'ssh-ed25519',
      data: b64(sshStrings('ssh-ed25519', seededBytes('x', 31))),
      message: 'ed25519 key data is malformed',
    },
    {
      name: 'small RSA modulus',
      type: 'ssh-rsa',
      data: b64(sshStrings('ssh-rsa', Buffer.from([1, 0, 1]), Buffer.from([0x7f, 0xff]))),
      message: 'RSA key is shorter than 1024 bits',
    },
    {
      name: 'negative RSA modulus',
      type: 'ssh-rsa',
      data: b64(
        sshStrings('ssh-rsa', Buffer.from([1, 0, 1]), seededBytes('n', 256).fill(0xff, 0, 1)),
      ),
      message: 'RSA key data is malformed',
    },
    {
      name: 'ECDSA curve mismatch',
      type: 'ecdsa-sha2-nistp256',
      data: b64(sshStrings('ecdsa-sha2-nistp256', 'nistp384', Buffer.alloc(65, 4))),
      message: 'not on curve nistp256',
    },
    {
      name: 'compressed ECDSA point',
      type: 'ecdsa-sha2-nistp256',
      data: b64(sshStrings('ecdsa-sha2-nistp256', 'nistp256', Buffer.alloc(33, 2))),
      message: 'ECDSA key data is malformed',
    },
    {
      name: 'sk key without application',
      type: 'sk-ssh-ed25519@openssh.com',
      data: b64(sshStrings('sk-ssh-ed25519@openssh.com', seededBytes('x', 32))),
      message: 'sk-ed25519 key data is malformed',
    },
  ];
  it('the unpadded case really drops padding', () => {
    assert.match(b64(blobFor('sk-ssh-ed25519@openssh.com')), /=$/);
  });
  for (const c of cases) {
    it(`refuses ${c.name}`, () => {
      const result = decodeKey(c.type, c.data);
      assert.equal(result.ok, false);
      assert.ok(!result.ok && result.message.includes(c.message), JSON.stringify(result));
    });
  }
});

describe('fingerprint', () => {
  it('is SHA256: plus unpadded base64 of the blob digest (fixed vector)', () => {
    // sha256("") = e3b0c442…; base64 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=
    assert.equal(
      fingerprint(Buffer.alloc(0)),
      'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU',
    );
  });

  for (const [type, args] of [
    ['ed25519', []],
    ['ecdsa', ['-b', '384']],
    ['rsa', ['-b', '2048']],
  ] as const) {
    it(`matches ssh-keygen -lf for a real ${type} key`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'burrow-policy-'));
      try {
        const path = join(dir, 'id');
        try {
          execFileSync('ssh-keygen', [
            '-q',
            '-t',
            type,
            ...args,
            '-N',
            '',
            '-C',
            'me@x',
            '-f',
            path,
          ]);
        } catch (err) {
          assert.fail(`ssh-keygen (openssh-client) is needed for this test: ${String(err)}`);
        }
        const listed = execFileSync('ssh-keygen', ['-lf', `${path}.pub`], { encoding: 'utf8' });
        const expected = listed.split(' ')[1];
        assert.match(expected ?? '', /^SHA256:[A-Za-z0-9+/]{43}$/);

        const { entries, errors } = parseAuthorizedKeys(readFileSync(`${path}.pub`, 'utf8'), 'k');
        assert.deepEqual(errors, []);
        assert.equal(entries.length, 1);
        assert.equal(entries[0]!.fingerprint, expected);
        assert.equal(entries[0]!.comment, 'me@x');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
