import { configError } from './errors.js';
import {
  checkHostKey,
  keyTypeOf,
  knownHostsLine,
  knownHostsName,
  parseKnownHosts,
} from './known-hosts.js';
import { decodeKey, fingerprint, isKeyType } from './policy/keys.js';

/**
 * Whether a relay's host key may be trusted: pinned keys from `--relay-host-key`, else the text
 * of an OpenSSH known_hosts file, optionally recording unknown keys (`--accept-new`, trust on
 * first use). Pure: the caller reads the file and appends what `judgeKnownHosts` asks it to.
 */

export type HostKeyDecision =
  /** `recorded`: the key was unknown and has just been written to known_hosts by --accept-new. */
  | { ok: true; recorded: boolean }
  /** `message`: one line saying what happened and what to fix, with the offered fingerprint. */
  | { ok: false; reason: 'mismatch' | 'unknown' | 'revoked'; message: string };

export interface HostKeyTrust {
  check(host: string, port: number, keyBlob: Buffer): HostKeyDecision;
  /** Where trust comes from, for logs: 'pinned key', 'known_hosts /path (accept-new)', … */
  readonly describe: string;
}

const FLAG = '--relay-host-key';

/** A pinned public key (compared by blob) or a `SHA256:` fingerprint (compared as text). */
export type Pin = { kind: 'key'; blob: Buffer } | { kind: 'fingerprint'; fingerprint: string };

/**
 * Parses one `--relay-host-key` value. A bad one throws a `configError` naming the flag and
 * quoting at most 40 characters of it.
 */
export function parsePin(value: string): Pin {
  const text = value.trim();
  const bad = (what: string) => configError(`${FLAG} ${preview(value)}: ${what}`);
  if (text === '') throw bad('is empty; give a public key line or a SHA256: fingerprint');
  if (text.startsWith('SHA256:')) {
    const digest = text.slice('SHA256:'.length);
    const bytes = Buffer.from(digest, 'base64');
    const valid = /^[A-Za-z0-9+/]{43}$/.test(digest) && bytes.length === 32;
    if (!valid || bytes.toString('base64').replace(/=+$/, '') !== digest) {
      throw bad('is not a SHA256 fingerprint as ssh-keygen -l prints it (SHA256: + 43 characters)');
    }
    return { kind: 'fingerprint', fingerprint: text };
  }
  if (/^MD5:/i.test(text)) throw bad('MD5 fingerprints are not accepted; use the SHA256: form');
  const [type = '', data] = text.split(/\s+/);
  if (!isKeyType(type)) {
    throw bad(
      'expected a public key line ("ssh-ed25519 AAAA… [comment]") or a SHA256: fingerprint',
    );
  }
  if (data === undefined) throw bad(`no key data after "${type}"`);
  const decoded = decodeKey(type, data);
  if (!decoded.ok) throw bad(decoded.message);
  return { kind: 'key', blob: decoded.blob };
}

/** The value as JSON text, cut to 40 characters, so a pasted private key is never echoed whole. */
function preview(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}

/** Trusts exactly the pinned keys; anything else is a mismatch naming the pins. */
export function checkPins(
  pins: readonly Pin[],
  host: string,
  port: number,
  keyBlob: Buffer,
): HostKeyDecision {
  const offered = fingerprint(keyBlob);
  const hit = pins.some((p) =>
    p.kind === 'key' ? p.blob.equals(keyBlob) : p.fingerprint === offered,
  );
  if (hit) return { ok: true, recorded: false };
  const pinned = pins.map((p) => (p.kind === 'key' ? fingerprint(p.blob) : p.fingerprint));
  return refuse(
    'mismatch',
    `relay ${where(host, port)} presented host key ${offered}, which does not match ` +
      `${FLAG} (${pinned.join(', ')}): if the relay's key really changed, update ${FLAG}`,
  );
}

/** What a known_hosts file says about an offered key. */
export interface KnownHostsQuery {
  readonly file: string;
  /** The file's text ('' when it does not exist), or the errno code that stopped reading it. */
  readonly text: string | { readError: string };
  readonly acceptNew: boolean;
  readonly host: string;
  readonly port: number;
  readonly keyBlob: Buffer;
}

/**
 * The decision for a key checked against known_hosts text, or `append`: the exact text to add to
 * the file to trust it on first use (only with `acceptNew`, for an unknown key of a recordable
 * type; it starts on a fresh line). A mismatch or a revoked key is never overridden.
 */
export function judgeKnownHosts(q: KnownHostsQuery): HostKeyDecision | { append: string } {
  const { file, host, port, keyBlob } = q;
  const relay = `relay ${where(host, port)}`;
  const offered = fingerprint(keyBlob);
  if (typeof q.text !== 'string') {
    return refuse(
      'unknown',
      `${relay} host key ${offered} cannot be checked: cannot read ${file} (${q.text.readError}): ` +
        `fix the file or its permissions, or pin the key with ${FLAG}`,
    );
  }
  const text = q.text;
  const verdict = checkHostKey(parseKnownHosts(text, file).entries, host, port, keyBlob);
  switch (verdict.kind) {
    case 'match':
      return { ok: true, recorded: false };
    case 'revoked':
      return refuse(
        'revoked',
        `${relay} presented host key ${offered}, which is marked @revoked in ${file}: ` +
          `refusing to connect; give the relay a new host key, then pin it with ${FLAG} or add it to ${file}`,
      );
    case 'mismatch': {
      const keys = verdict.known.length === 1 ? 'the key' : 'the keys';
      return refuse(
        'mismatch',
        `${relay} presented host key ${offered}, which does not match ${keys} on file in ${file} ` +
          `(${verdict.known.join(', ')}): if the relay's key really changed, remove the old line ` +
          `from ${file} (ssh-keygen -R "${knownHostsName(host, port)}" -f ${file})`,
      );
    }
    case 'unknown':
      break;
  }
  const unknown = `${relay} host key ${offered} is not known`;
  if (!q.acceptNew) {
    return refuse(
      'unknown',
      `${unknown}: pin it with ${FLAG}, add it to ${file}, or pass --accept-new to trust it on first use`,
    );
  }
  if (keyTypeOf(keyBlob) === undefined) {
    return refuse(
      'unknown',
      `${unknown} and is of a type burrow cannot record in ${file}: pin it with ${FLAG}`,
    );
  }
  const sep = text === '' || text.endsWith('\n') ? '' : '\n';
  return { append: `${sep}${knownHostsLine(host, port, keyBlob)}\n` };
}

/** The refusal when `judgeKnownHosts` asked for an append that failed with errno `code`. */
export function cannotRecord(
  file: string,
  host: string,
  port: number,
  keyBlob: Buffer,
  code: string,
): HostKeyDecision {
  return refuse(
    'unknown',
    `relay ${where(host, port)} host key ${fingerprint(keyBlob)} is not known and --accept-new ` +
      `cannot record it: cannot write ${file} (${code}): ` +
      `fix the file or its directory, or pin the key with ${FLAG}`,
  );
}

/** `host:port`, bracketing an IPv6 address. */
function where(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Control characters (from a path or host name) are replaced so the message stays one line. */
function refuse(reason: 'mismatch' | 'unknown' | 'revoked', message: string): HostKeyDecision {
  return { ok: false, reason, message: message.replace(/\p{Cc}/gu, '?') };
}
