import { createHash } from 'node:crypto';
import ssh2 from 'ssh2';
import { BurrowError } from '../core/errors.js';

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
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Generates a new ed25519 key pair in OpenSSH format. */
export function generateEd25519(comment = 'burrow'): { privateKey: string; publicLine: string } {
  const pair = utils.generateKeyPairSync('ed25519', { comment });
  return { privateKey: pair.private, publicLine: pair.public.trim() };
}

/**
 * Parses a private host key. Throws KEY_INVALID with a message that names `source` and never
 * includes key material.
 */
export function parseHostKey(text: string, source: string): HostKey {
  const parsed = utils.parseKey(text);
  if (parsed instanceof Error) {
    const encrypted = /encrypted|passphrase/i.test(parsed.message);
    throw new BurrowError(
      'KEY_INVALID',
      encrypted
        ? `${source}: host key is encrypted; burrow needs an unencrypted host key`
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
