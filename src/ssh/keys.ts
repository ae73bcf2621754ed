import { createPrivateKey, createPublicKey, type KeyObject, verify } from 'node:crypto';
import { BurrowError } from '../core/errors.js';
import { fingerprint } from '../core/policy/keys.js';
import ssh2 from './ssh2.js';

const { utils } = ssh2;

/**
 * Key material as burrow sees it. ssh2's parsed-key objects never leave this module; callers get
 * plain data (blobs, lines, fingerprints) and narrow functions.
 */
export interface HostKey {
  /** Private key text, OpenSSH format. Never log this. */
  readonly privateKey: string;
  /** `ssh-ed25519 AAAA…` (no comment). */
  readonly publicLine: string;
  /** `SHA256:…` as `ssh-keygen -l` prints it. */
  readonly fingerprint: string;
}

/** SHA256 fingerprint of an SSH public key blob, as `ssh-keygen -l` prints it. */
export const fingerprintOf = fingerprint;

export { generateEd25519 } from './openssh-format.js';

/**
 * Parses a private host key. Throws KEY_INVALID with a message that names `source` and never
 * includes key material.
 */
export function parseHostKey(text: string, source: string, what = 'host key'): HostKey {
  const parsed = utils.parseKey(text);
  if (parsed instanceof Error) {
    const encrypted = /encrypted|passphrase/i.test(parsed.message);
    throw new BurrowError(
      'KEY_INVALID',
      encrypted
        ? `${source}: ${what} is encrypted; burrow needs an unencrypted ${what}`
        : `${source}: not a usable private key (${parsed.message})`,
    );
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key?.isPrivateKey()) {
    throw new BurrowError('KEY_INVALID', `${source}: not a private key`);
  }
  const blob = key.getPublicSSH();
  return {
    privateKey: text,
    publicLine: `${key.type} ${blob.toString('base64')}`,
    fingerprint: fingerprintOf(blob),
  };
}

type Ssh2Key = Exclude<ReturnType<typeof utils.parseKey>, Error | unknown[]>;

/**
 * Returns ssh2's parsed form of a private key with its key material held as Node KeyObjects
 * instead of PEM text. ssh2 hands its stored PEM to crypto.sign on every signature, and OpenSSL 3
 * decodes a PEM key slowly: with KeyObjects a host-key signature is about ten times cheaper, which
 * is what lets one relay accept hundreds of device handshakes a second (`npm run bench -- relay
 * --phases idle` measures registrations per second).
 */
export function toSsh2Key(text: string): Ssh2Key {
  const parsed = utils.parseKey(text);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) throw new BurrowError('KEY_INVALID', 'host key unparseable');
  const pub = key.getPublicSSH();
  let swapped = false;
  for (const sym of Object.getOwnPropertySymbols(key)) {
    const holder = key as unknown as Record<symbol, unknown>;
    const value = holder[sym];
    if (typeof value !== 'string' || !value.startsWith('-----BEGIN')) continue;
    if (sym.description === PRIVATE_PEM) {
      holder[sym] = privateKeyObject(value, pub);
      swapped = true;
    } else if (sym.description === PUBLIC_PEM) {
      holder[sym] = ed25519KeyObject(pub) ?? createPublicKey(value);
    }
  }
  // The seam into ssh2's parsed key: without it every signature would quietly decode PEM again.
  if (!swapped) {
    throw new BurrowError(
      'SSH2_SEAM_MISSING',
      `ssh2: the parsed key has no "${PRIVATE_PEM}" field; burrow needs ssh2 1.17.0`,
    );
  }
  return key as Ssh2Key;
}

/** The descriptions of the symbols under which ssh2 1.17.0's parsed keys keep their PEM text. */
const PRIVATE_PEM = 'Private key PEM';
const PUBLIC_PEM = 'Public key PEM';

/** PKCS#8 DER of an ed25519 private key: this fixed 16-byte header, then the 32-byte seed. */
const PKCS8_ED25519_HEADER = Buffer.from('302e020100300506032b657004220420', 'hex');

function privateKeyObject(pem: string, pub: Buffer): KeyObject {
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  if (der.length === 48 && der.subarray(0, 16).equals(PKCS8_ED25519_HEADER) && pub.length === 51) {
    return createPrivateKey({
      key: {
        kty: 'OKP',
        crv: 'Ed25519',
        d: der.subarray(16).toString('base64url'),
        x: pub.subarray(19).toString('base64url'),
      },
      format: 'jwk',
    });
  }
  return createPrivateKey(pem);
}

const ED25519_PREFIX = Buffer.from('0000000b7373682d65643235353139', 'hex'); // string "ssh-ed25519"

/** KeyObject for an ssh-ed25519 blob, imported as JWK (an order of magnitude cheaper than PEM). */
function ed25519KeyObject(blob: Buffer): KeyObject | undefined {
  if (blob.length !== 51 || !blob.subarray(0, 15).equals(ED25519_PREFIX)) return undefined;
  if (blob.readUInt32BE(15) !== 32) return undefined;
  try {
    return createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: blob.subarray(19).toString('base64url') },
      format: 'jwk',
    });
  } catch {
    return undefined;
  }
}

/**
 * Verifies a user-auth signature made with the key in `blob` over `data`. Returns false for any
 * malformed input rather than throwing: the peer is untrusted.
 */
export function verifySignature(
  blob: Buffer,
  data: Buffer,
  signature: Buffer,
  hashAlgo: string | undefined,
): boolean {
  const ed = ed25519KeyObject(blob);
  if (ed) {
    try {
      return verify(null, data, ed, signature);
    } catch {
      return false;
    }
  }
  const key = utils.parseKey(blob);
  if (key instanceof Error) return false;
  const k = Array.isArray(key) ? key[0] : key;
  if (!k) return false;
  try {
    return k.verify(data, signature, hashAlgo as never) === true;
  } catch {
    return false;
  }
}
