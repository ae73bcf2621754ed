import { generateKeyPairSync, randomBytes } from 'node:crypto';

/**
 * Ed25519 keys in OpenSSH's own file format ("openssh-key-v1", unencrypted), built from Node's
 * crypto. (ssh2's key generator drops a leading zero byte of the public key, so about one key in
 * 256 comes out invalid; this encoder has no such case.)
 */

function sshString(data: Buffer | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data) : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** The SSH wire-format public key blob of a raw 32-byte ed25519 public key. */
export function ed25519PublicBlob(pub: Buffer): Buffer {
  return Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]);
}

/** Encodes a raw ed25519 seed and public key as an OpenSSH private key file. */
export function encodeEd25519Private(seed: Buffer, pub: Buffer, comment: string): string {
  const check = randomBytes(4);
  const body = Buffer.concat([
    check,
    check,
    sshString('ssh-ed25519'),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString(comment),
  ]);
  const padLen = (8 - (body.length % 8)) % 8;
  const padding = Buffer.from(Array.from({ length: padLen }, (_, i) => i + 1));
  const file = Buffer.concat([
    Buffer.from('openssh-key-v1\0'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    uint32(1),
    sshString(ed25519PublicBlob(pub)),
    sshString(Buffer.concat([body, padding])),
  ]);
  const b64 = file.toString('base64').replace(/.{1,70}/g, '$&\n');
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}-----END OPENSSH PRIVATE KEY-----\n`;
}

/** PKCS#8 DER of an ed25519 key is a 16-byte header and the seed; SPKI DER is 12 + the key. */
const PKCS8_HEADER = 16;
const SPKI_HEADER = 12;

/**
 * A fresh ed25519 key pair: OpenSSH private key text and `ssh-ed25519 AAAA… comment` line.
 * The raw key comes from DER, not JWK: on Node 20.20 a KeyObject's JWK export can deadlock when
 * a garbage collection runs inside it (seen in gdb while generating thousands of keys), and
 * asking generateKeyPairSync for DER never creates a KeyObject at all.
 */
export function generateEd25519(comment = 'burrow'): { privateKey: string; publicLine: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519', {
    privateKeyEncoding: { type: 'pkcs8', format: 'der' },
    publicKeyEncoding: { type: 'spki', format: 'der' },
  });
  const seed = privateKey.subarray(PKCS8_HEADER);
  const pub = publicKey.subarray(SPKI_HEADER);
  if (seed.length !== 32 || pub.length !== 32) throw new Error('unexpected ed25519 DER layout');
  return {
    privateKey: encodeEd25519Private(seed, pub, comment),
    publicLine: `ssh-ed25519 ${ed25519PublicBlob(pub).toString('base64')} ${comment}`.trim(),
  };
}
