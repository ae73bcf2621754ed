import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { configError } from '../core/errors.js';
import {
  checkHostKey,
  keyTypeOf,
  knownHostsLine,
  knownHostsName,
  parseKnownHosts,
} from '../core/known-hosts.js';
import { decodeKey, fingerprint, isKeyType } from '../core/policy/keys.js';

/**
 * Whether `burrow agent` may trust the host key a relay presents: pinned keys from
 * `--relay-host-key`, else an OpenSSH known_hosts file, optionally recording unknown keys
 * (`--accept-new`, trust on first use).
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
type Pin = { kind: 'key'; blob: Buffer } | { kind: 'fingerprint'; fingerprint: string };

/**
 * Builds the trust decision. Every `pinned` value is validated here, before any connection: a bad
 * one throws a `configError` naming `--relay-host-key` and quoting at most 40 characters of it.
 * With pins, only they decide and `knownHostsFile` is never read. Otherwise the file is re-read on
 * every `check` (a missing file has no entries, malformed lines are ignored), and with `acceptNew`
 * an unknown key is appended to it; a mismatch or a revoked key is never overridden.
 */
export function hostKeyTrust(opts: {
  pinned: readonly string[];
  knownHostsFile: string;
  acceptNew: boolean;
}): HostKeyTrust {
  const pins = opts.pinned.map(parsePin);
  if (pins.length > 0) {
    return {
      describe: pins.length === 1 ? 'pinned key' : `${pins.length} pinned keys`,
      check: (host, port, keyBlob) => checkPins(pins, host, port, keyBlob),
    };
  }
  const file = opts.knownHostsFile;
  return {
    describe: `known_hosts ${file}${opts.acceptNew ? ' (accept-new)' : ''}`,
    check: (host, port, keyBlob) => checkFile(file, opts.acceptNew, host, port, keyBlob),
  };
}

function parsePin(value: string): Pin {
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

function checkPins(pins: Pin[], host: string, port: number, keyBlob: Buffer): HostKeyDecision {
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

function checkFile(
  file: string,
  acceptNew: boolean,
  host: string,
  port: number,
  keyBlob: Buffer,
): HostKeyDecision {
  const relay = `relay ${where(host, port)}`;
  const offered = fingerprint(keyBlob);
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = errno(err);
    if (code !== 'ENOENT') {
      return refuse(
        'unknown',
        `${relay} host key ${offered} cannot be checked: cannot read ${file} (${code}): ` +
          `fix the file or its permissions, or pin the key with ${FLAG}`,
      );
    }
  }
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
  if (!acceptNew) {
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
  // One append, starting on a fresh line if the file's last line has no newline.
  const sep = text === '' || text.endsWith('\n') ? '' : '\n';
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    appendFileSync(file, `${sep}${knownHostsLine(host, port, keyBlob)}\n`, { mode: 0o600 });
  } catch (err) {
    return refuse(
      'unknown',
      `${unknown} and --accept-new cannot record it: cannot write ${file} (${errno(err)}): ` +
        `fix the file or its directory, or pin the key with ${FLAG}`,
    );
  }
  return { ok: true, recorded: true };
}

/** `host:port`, bracketing an IPv6 address. */
function where(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function errno(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? 'error';
}

/** Control characters (from a path or host name) are replaced so the message stays one line. */
function refuse(reason: 'mismatch' | 'unknown' | 'revoked', message: string): HostKeyDecision {
  return { ok: false, reason, message: message.replace(/\p{Cc}/gu, '?') };
}
