import { createHash } from 'node:crypto';
import { quote } from './quote.js';

/**
 * SSH public keys as they appear in an authorized_keys line: a type name and the base64 of the
 * key's SSH wire-format blob (RFC 4253 §6.6, RFC 5656, PROTOCOL.u2f). Blobs are checked the way
 * OpenSSH's sshkey_read checks them, so a line burrow accepts is one sshd would accept too.
 */

export const KEY_TYPES = [
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
] as const;

export type KeyType = (typeof KEY_TYPES)[number];

const KEY_TYPE_SET: ReadonlySet<string> = new Set(KEY_TYPES);

/** Key type names are case-sensitive, as in OpenSSH. */
export function isKeyType(word: string): word is KeyType {
  return KEY_TYPE_SET.has(word);
}

export type KeyDecode = { ok: true; blob: Buffer } | { ok: false; message: string };

/** OpenSSH refuses RSA keys shorter than this (SSH_RSA_MINIMUM_MODULUS_SIZE). */
const RSA_MIN_BITS = 1024;
const ED25519_PK_BYTES = 32;
/** Uncompressed EC point sizes: 0x04 || X || Y. */
const EC_POINT_BYTES: Record<string, number> = { nistp256: 65, nistp384: 97, nistp521: 133 };

const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Decodes the base64 field of a key line and checks the blob: strict base64 (padded, no stray
 * bits), the embedded type string equals `type`, the fields that type needs are present and
 * well-formed, and nothing trails them.
 */
export function decodeKey(type: KeyType, base64: string): KeyDecode {
  if (base64.length % 4 !== 0 || !BASE64_RE.test(base64)) {
    return { ok: false, message: 'key data is not valid base64' };
  }
  const blob = Buffer.from(base64, 'base64');
  if (blob.toString('base64') !== base64) {
    return { ok: false, message: 'key data is not valid base64' };
  }
  const fields = readStrings(blob);
  if (fields === undefined || fields.length === 0) {
    return { ok: false, message: 'key data is malformed' };
  }
  const embedded = fields[0]!.toString('latin1');
  if (embedded !== type) {
    return {
      ok: false,
      message: `key data is a ${quote(embedded)} key but the line says "${type}"`,
    };
  }
  const problem = checkFields(type, fields.slice(1));
  return problem === undefined ? { ok: true, blob } : { ok: false, message: problem };
}

/** `SHA256:` + unpadded base64 of the blob's SHA-256, exactly as `ssh-keygen -l` prints it. */
export function fingerprint(blob: Buffer): string {
  const digest = createHash('sha256').update(blob).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

/** Returns a reason the type-specific fields are wrong, or undefined when they are right. */
function checkFields(type: KeyType, fields: Buffer[]): string | undefined {
  switch (type) {
    case 'ssh-ed25519':
      return fields.length === 1 && fields[0]!.length === ED25519_PK_BYTES
        ? undefined
        : 'ed25519 key data is malformed';
    case 'sk-ssh-ed25519@openssh.com':
      return fields.length === 2 && fields[0]!.length === ED25519_PK_BYTES
        ? undefined
        : 'sk-ed25519 key data is malformed';
    case 'ssh-rsa':
      return checkRsa(fields);
    case 'ecdsa-sha2-nistp256':
    case 'ecdsa-sha2-nistp384':
    case 'ecdsa-sha2-nistp521':
      return checkEcdsa(type.slice('ecdsa-sha2-'.length), fields, 2);
    case 'sk-ecdsa-sha2-nistp256@openssh.com':
      return checkEcdsa('nistp256', fields, 3);
  }
}

function checkRsa(fields: Buffer[]): string | undefined {
  const [e, n] = fields;
  if (fields.length !== 2 || e === undefined || n === undefined) return 'RSA key data is malformed';
  if (!isPositiveMpint(e) || !isPositiveMpint(n)) return 'RSA key data is malformed';
  if (mpintBits(n) < RSA_MIN_BITS) return `RSA key is shorter than ${RSA_MIN_BITS} bits`;
  return undefined;
}

function checkEcdsa(curve: string, fields: Buffer[], count: number): string | undefined {
  const [name, point] = fields;
  if (fields.length !== count || name === undefined || point === undefined) {
    return 'ECDSA key data is malformed';
  }
  if (name.toString('latin1') !== curve) return `ECDSA key data is not on curve ${curve}`;
  if (point.length !== EC_POINT_BYTES[curve] || point[0] !== 0x04) {
    return 'ECDSA key data is malformed';
  }
  return undefined;
}

/** An SSH mpint greater than zero; leading zero bytes are tolerated, as OpenSSH does. */
function isPositiveMpint(b: Buffer): boolean {
  return b.length > 0 && (b[0]! & 0x80) === 0 && mpintBits(b) > 0;
}

function mpintBits(b: Buffer): number {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  if (i === b.length) return 0;
  return (b.length - i - 1) * 8 + (32 - Math.clz32(b[i]!));
}

/** Splits a blob into its SSH `string` fields; undefined when the framing is broken. */
function readStrings(blob: Buffer): Buffer[] | undefined {
  const out: Buffer[] = [];
  let at = 0;
  while (at < blob.length) {
    if (at + 4 > blob.length) return undefined;
    const len = blob.readUInt32BE(at);
    at += 4;
    if (len > blob.length - at) return undefined;
    out.push(blob.subarray(at, at + len));
    at += len;
  }
  return out;
}
