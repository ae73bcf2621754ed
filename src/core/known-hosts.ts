import { createHmac, timingSafeEqual } from 'node:crypto';
import { decodeKey, fingerprint, isKeyType, type KeyType } from './policy/keys.js';
import { matchGlob } from './policy/patterns.js';
import { quote } from './policy/quote.js';

/**
 * OpenSSH known_hosts (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT", hostfile.c): parsing, and the
 * decision whether a relay's host key is the one on file. Pure: the caller reads and writes files.
 */

/** Who a line is for: a hashed name (`|1|salt|hmac`) or comma-separated `!`-able globs. */
export type KnownHostNames =
  | { readonly kind: 'hashed'; readonly salt: Buffer; readonly hash: Buffer }
  | {
      readonly kind: 'patterns';
      readonly patterns: readonly { readonly negated: boolean; readonly glob: string }[];
    };

export interface KnownHostEntry {
  /** File (or other origin) the line came from, and its 1-based line number. */
  readonly source: string;
  readonly line: number;
  /** `@revoked` denies the key; `@cert-authority` is kept but never matches (unsupported). */
  readonly marker?: 'revoked' | 'cert-authority';
  readonly names: KnownHostNames;
  readonly keyType: KeyType;
  readonly keyBlob: Buffer;
  readonly comment?: string;
}

export interface KnownHostsParse {
  readonly entries: KnownHostEntry[];
  readonly errors: { line: number; message: string }[];
}

export type HostKeyVerdict =
  | { kind: 'match' }
  | { kind: 'unknown' }
  /** `known`: SHA256 fingerprints of the keys on file for that host, each once, in file order. */
  | { kind: 'mismatch'; known: string[] }
  | { kind: 'revoked' };

/**
 * `host` for port 22, else `[host]:port`, lower-cased: the name ssh writes, looks up and hashes
 * (ssh lower-cases the host name first, so a hashed line only ever matches the lower-case form).
 */
export function knownHostsName(host: string, port: number): string {
  const name = host.toLowerCase();
  return port === 22 ? name : `[${name}]:${port}`;
}

/**
 * Parses known_hosts text. Blank lines and `#` comments are skipped; every other line becomes an
 * entry or an error naming its line, and a bad line never stops the lines after it from loading.
 * Key types outside `isKeyType` (ssh-dss, certificates, old RSA1 lines) are reported as errors.
 */
export function parseKnownHosts(text: string, source: string): KnownHostsParse {
  const entries: KnownHostEntry[] = [];
  const errors: { line: number; message: string }[] = [];
  text.split('\n').forEach((raw, i) => {
    const parsed = parseLine(raw.endsWith('\r') ? raw.slice(0, -1) : raw);
    if (parsed === undefined) return;
    if (typeof parsed === 'string') errors.push({ line: i + 1, message: parsed });
    else entries.push({ source, line: i + 1, ...parsed });
  });
  return { entries, errors };
}

type LineFields = Omit<KnownHostEntry, 'source' | 'line'>;

/** undefined for a blank or comment line, a message for a bad one. */
function parseLine(line: string): LineFields | string | undefined {
  const words = line.split(/[ \t]+/).filter((w) => w !== '');
  if (words.length === 0 || words[0]!.startsWith('#')) return undefined;
  let marker: KnownHostEntry['marker'];
  if (words[0]!.startsWith('@')) {
    const word = words.shift()!;
    if (word === '@revoked') marker = 'revoked';
    else if (word === '@cert-authority') marker = 'cert-authority';
    else return `unknown marker ${quote(word)} (expected @revoked or @cert-authority)`;
  }
  const [hostField, type, data] = words;
  if (hostField === undefined) return 'no host names after the marker';
  if (isKeyType(hostField)) return 'no host names before the key type';
  const names = parseNames(hostField);
  if (typeof names === 'string') return names;
  if (type === undefined) return 'no key after the host names';
  if (!isKeyType(type)) return `unsupported key type ${quote(type)}`;
  if (data === undefined) return `no key data after "${type}"`;
  const decoded = decodeKey(type, data);
  if (!decoded.ok) return decoded.message;
  const comment = words.slice(3).join(' ');
  return {
    ...(marker === undefined ? {} : { marker }),
    names,
    keyType: type,
    keyBlob: decoded.blob,
    ...(comment === '' ? {} : { comment }),
  };
}

const HASH_MAGIC = '|1|';
/** OpenSSH hashes with HMAC-SHA1 under a salt as long as the digest. */
const SHA1_BYTES = 20;

function parseNames(field: string): KnownHostNames | string {
  if (field.startsWith('|')) {
    const parts = field.slice(HASH_MAGIC.length).split('|');
    const [salt, hash] = parts.map(strictBase64);
    if (
      !field.startsWith(HASH_MAGIC) ||
      parts.length !== 2 ||
      salt?.length !== SHA1_BYTES ||
      hash?.length !== SHA1_BYTES
    ) {
      return `hashed host name ${quote(field)} is malformed (expected |1|salt|hash)`;
    }
    return { kind: 'hashed', salt, hash };
  }
  const patterns = field.split(',').map((p) => {
    const negated = p.startsWith('!');
    return { negated, glob: negated ? p.slice(1) : p };
  });
  return { kind: 'patterns', patterns };
}

/** Canonical padded base64 only; undefined otherwise. */
function strictBase64(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

/**
 * Whether the line is for `name` (already `knownHostsName` form, lower-cased). As OpenSSH's
 * match_hostname: some positive glob matches and no negated one does; a hashed name matches when
 * HMAC-SHA1(salt, name) equals the stored hash.
 */
function namesMatch(names: KnownHostNames, name: string): boolean {
  if (names.kind === 'hashed') {
    const mac = createHmac('sha1', names.salt).update(name).digest();
    return timingSafeEqual(mac, names.hash);
  }
  let positive = false;
  for (const p of names.patterns) {
    if (!matchGlob(p.glob, name)) continue;
    if (p.negated) return false;
    positive = true;
  }
  return positive;
}

/**
 * Decides whether `keyBlob` is the host key on file for `host`:`port`, looked up by its
 * `knownHostsName` (so `[host]:port` lines apply only to that port, as in OpenSSH).
 * - `revoked`: an applicable `@revoked` line holds this key; wins over everything else.
 * - `match`: an applicable unmarked line holds this key.
 * - `mismatch`: applicable unmarked lines exist, of any key type, and none holds this key
 *   (stricter than OpenSSH, which only compares keys of the offered type).
 * - `unknown`: no applicable unmarked line. `@cert-authority` lines never apply.
 */
export function checkHostKey(
  entries: readonly KnownHostEntry[],
  host: string,
  port: number,
  keyBlob: Buffer,
): HostKeyVerdict {
  const name = knownHostsName(host, port);
  // Only unmarked and @revoked lines are consulted; @cert-authority lines never apply.
  const applicable = entries.filter((e) => namesMatch(e.names, name));
  if (applicable.some((e) => e.marker === 'revoked' && e.keyBlob.equals(keyBlob))) {
    return { kind: 'revoked' };
  }
  const onFile = applicable.filter((e) => e.marker === undefined);
  if (onFile.length === 0) return { kind: 'unknown' };
  if (onFile.some((e) => e.keyBlob.equals(keyBlob))) return { kind: 'match' };
  return { kind: 'mismatch', known: [...new Set(onFile.map((e) => fingerprint(e.keyBlob)))] };
}

/**
 * The type of a well-formed public key blob of a supported type (the embedded type string, checked
 * with `decodeKey`), or undefined when the blob is anything else.
 */
export function keyTypeOf(keyBlob: Buffer): KeyType | undefined {
  if (keyBlob.length < 4) return undefined;
  const len = keyBlob.readUInt32BE(0);
  if (len > keyBlob.length - 4) return undefined;
  const type = keyBlob.subarray(4, 4 + len).toString('latin1');
  if (!isKeyType(type)) return undefined;
  return decodeKey(type, keyBlob.toString('base64')).ok ? type : undefined;
}

/**
 * An unhashed known_hosts line `name type base64` (no newline) that `checkHostKey` will match.
 * Throws when `keyBlob` is not a well-formed key of a supported type (see `keyTypeOf`).
 */
export function knownHostsLine(host: string, port: number, keyBlob: Buffer): string {
  const type = keyTypeOf(keyBlob);
  if (type === undefined) throw new Error('knownHostsLine: not a supported public key blob');
  return `${knownHostsName(host, port)} ${type} ${keyBlob.toString('base64')}`;
}
