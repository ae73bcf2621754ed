import { createHash } from 'node:crypto';
import type { KeyType } from './keys.js';

/**
 * Test fixtures: structurally valid SSH public key blobs built from a seed, so policy tests need
 * no key files. Used only by the *.test.ts files beside it.
 */

/** SSH wire `string`s (uint32 length + bytes) concatenated. */
export function sshStrings(...parts: (string | Buffer)[]): Buffer {
  return Buffer.concat(
    parts.flatMap((part) => {
      const bytes = typeof part === 'string' ? Buffer.from(part, 'latin1') : part;
      const len = Buffer.alloc(4);
      len.writeUInt32BE(bytes.length);
      return [len, bytes];
    }),
  );
}

/** `length` deterministic pseudo-random bytes derived from `seed`. */
export function seededBytes(seed: string, length: number): Buffer {
  const chunks: Buffer[] = [];
  for (let i = 0; chunks.length * 32 < length; i++) {
    chunks.push(createHash('sha256').update(`${seed}/${i}`).digest());
  }
  return Buffer.concat(chunks).subarray(0, length);
}

function ecPoint(seed: string, coordBytes: number): Buffer {
  return Buffer.concat([Buffer.from([4]), seededBytes(seed, coordBytes * 2)]);
}

/** A well-formed blob of `type`; different seeds give different keys. */
export function blobFor(type: KeyType, seed = 'k'): Buffer {
  switch (type) {
    case 'ssh-ed25519':
      return sshStrings(type, seededBytes(seed, 32));
    case 'sk-ssh-ed25519@openssh.com':
      return sshStrings(type, seededBytes(seed, 32), 'ssh:');
    case 'ssh-rsa': {
      const n = seededBytes(seed, 256);
      n[0] = n[0]! | 0x80;
      return sshStrings(type, Buffer.from([1, 0, 1]), Buffer.concat([Buffer.from([0]), n]));
    }
    case 'ecdsa-sha2-nistp256':
      return sshStrings(type, 'nistp256', ecPoint(seed, 32));
    case 'ecdsa-sha2-nistp384':
      return sshStrings(type, 'nistp384', ecPoint(seed, 48));
    case 'ecdsa-sha2-nistp521':
      return sshStrings(type, 'nistp521', ecPoint(seed, 66));
    case 'sk-ecdsa-sha2-nistp256@openssh.com':
      return sshStrings(type, 'nistp256', ecPoint(seed, 32), 'ssh:');
  }
}

/** An authorized_keys line for a fixture key: `[options ]type base64[ comment]`. */
export function keyLine(options: string, seed = 'k', comment = '', type: KeyType = 'ssh-ed25519') {
  const key = `${type} ${blobFor(type, seed).toString('base64')}`;
  return [options, key, comment].filter((part) => part !== '').join(' ');
}
