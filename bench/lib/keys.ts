/**
 * Ed25519 keys for benchmarks, in OpenSSH's file format, made in-process.
 *
 * Not generateEd25519() from src/ssh: on Node 20.20 its generateKeyPairSync + KeyObject JWK
 * export deadlocks now and then when a garbage collection runs inside the export (a KeyGenJob
 * destructor waits on a mutex the export holds; seen in gdb), which hung key generation for
 * thousands of devices in about half the runs. Asking generateKeyPairSync for DER directly never
 * creates a KeyObject, and the same encoder from src/ssh writes the OpenSSH file.
 */
import { generateKeyPairSync } from 'node:crypto';

import { ed25519PublicBlob, encodeEd25519Private } from '../../src/ssh/openssh-format.js';

/** PKCS#8 DER of an ed25519 key is a 16-byte header and the 32-byte seed; SPKI is 12 + 32. */
const PKCS8_HEADER = 16;
const SPKI_HEADER = 12;

export function benchEd25519(comment: string): {
  privateKey: string;
  /** `ssh-ed25519 AAAA… comment` */
  publicLine: string;
} {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519', {
    privateKeyEncoding: { type: 'pkcs8', format: 'der' },
    publicKeyEncoding: { type: 'spki', format: 'der' },
  });
  const seed = privateKey.subarray(PKCS8_HEADER);
  const pub = publicKey.subarray(SPKI_HEADER);
  if (seed.length !== 32 || pub.length !== 32) throw new Error('unexpected ed25519 DER layout');
  return {
    privateKey: encodeEd25519Private(seed, pub, comment),
    publicLine: `ssh-ed25519 ${ed25519PublicBlob(pub).toString('base64')} ${comment}`,
  };
}
