import { parseExpiryTime } from './expiry.js';
import { fingerprint, type KeyType } from './keys.js';
import { parseKeyLine } from './options.js';
import { parseAddressPatternList, parseRoutePattern } from './patterns.js';
import { type PolicyEntry, parseAuthorizedKeys } from './policy.js';
import { quote } from './quote.js';

/**
 * Writing policy lines: a public key as `ssh-keygen` leaves it in a .pub file, read strictly, and
 * an authorized_keys line built from what a key may do. Every value is checked with the parsers
 * the relay uses, and the finished line is parsed back as the relay would, so a line built here
 * is one the relay loads with exactly these permits.
 */

export interface PublicKey {
  readonly keyType: KeyType;
  readonly keyBlob: Buffer;
  readonly fingerprint: string;
  /** The comment after the key (`alice@laptop`), if any. */
  readonly comment?: string;
}

export type PublicKeyParse = { ok: true; key: PublicKey } | { ok: false; message: string };

/**
 * Reads the text of a public key file: exactly one `key-type base64 [comment]` line (blank lines
 * around it are fine), no options. A private key, several keys or anything else is refused with
 * the reason.
 */
export function parsePublicKey(text: string): PublicKeyParse {
  if (/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text)) {
    return fail('this is a private key; give its public half (the .pub file)');
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) return fail('no public key found (the input is empty)');
  if (lines.length > 1) {
    const keys = lines.filter((l) => parseKeyLine(l).kind === 'key').length;
    return fail(
      keys > 1
        ? `holds ${keys} keys; give one key at a time`
        : 'expected one line: key-type base64-key [comment]',
    );
  }
  const line = lines[0]!;
  const parsed = parseKeyLine(line);
  if (parsed.kind === 'blank') return fail('no public key found (only a comment)');
  if (parsed.kind === 'invalid') return fail(parsed.message);
  if (parsed.key.options.length > 0) {
    return fail('a public key file has no options; give what the key may do as flags');
  }
  const { keyType, keyBlob, comment } = parsed.key;
  return {
    ok: true,
    key: {
      keyType,
      keyBlob,
      fingerprint: fingerprint(keyBlob),
      ...(comment === undefined ? {} : { comment }),
    },
  };
}

function fail(message: string): { ok: false; message: string } {
  return { ok: false, message };
}

/** What a key may do, as the `burrow keys add` flags give it. */
export interface Permits {
  readonly listen: readonly string[];
  readonly open: readonly string[];
  readonly from?: string;
  readonly expiry?: string;
}

export type KeyLineBuild =
  | { ok: true; line: string; entry: PolicyEntry }
  | { ok: false; flag: string; message: string };

/**
 * Builds `permitlisten="…",…,from="…",expiry-time="…" key-type base64 [comment]`. Refuses, naming
 * the flag, a value the relay would refuse, and a key that may neither listen nor open.
 */
export function buildKeyLine(key: PublicKey, permits: Permits): KeyLineBuild {
  if (permits.listen.length === 0 && permits.open.length === 0) {
    return {
      ok: false,
      flag: '--listen/--open',
      message: 'give at least one --listen or --open: a key that may do nothing is not added',
    };
  }
  const options: string[] = [];
  for (const [flag, option, values] of [
    ['--listen', 'permitlisten', permits.listen],
    ['--open', 'permitopen', permits.open],
  ] as const) {
    for (const value of values) {
      const route = parseRoutePattern(value);
      if (!route.ok) return { ok: false, flag, message: route.message };
      options.push(`${option}="${value}"`);
    }
  }
  if (permits.from !== undefined) {
    const list = parseAddressPatternList(permits.from);
    if (!list.ok) {
      return { ok: false, flag: '--from', message: list.message.replace(/^from=: /, '') };
    }
    options.push(`from="${permits.from}"`);
  }
  if (permits.expiry !== undefined) {
    if (!parseExpiryTime(permits.expiry).ok) {
      return {
        ok: false,
        flag: '--expiry',
        message: `${quote(permits.expiry)} is not a valid YYYYMMDD[HHMM[SS]][Z]`,
      };
    }
    options.push(`expiry-time="${permits.expiry}"`);
  }
  const keyText = `${key.keyType} ${key.keyBlob.toString('base64')}`;
  const line = [options.join(','), keyText, key.comment ?? ''].filter((p) => p !== '').join(' ');
  // The relay's own reading of the line; anything else would be a bug here, not bad input.
  const { entries, errors } = parseAuthorizedKeys(line, 'new line');
  if (errors.length > 0 || entries.length !== 1) {
    throw new Error(`built a line the relay would not load: ${errors[0]?.message ?? line}`);
  }
  return { ok: true, line, entry: entries[0]! };
}

/** Short key type name: `ed25519`, `rsa`, `ecdsa-nistp256`, `sk-ed25519`, … */
export function shortKeyType(type: KeyType): string {
  return type
    .replace(/@openssh\.com$/, '')
    .replace(/^ssh-/, '')
    .replace('ecdsa-sha2-', 'ecdsa-')
    .replace('sk-ssh-', 'sk-');
}

/**
 * What a policy line lets its key do, in words: `listen dev1:22, open *:22, from 10.0.0.0/8,
 * until 2030-01-01T00:00:00.000Z`. `nothing` for a key with no permitlisten or permitopen.
 */
export function describePermits(entry: PolicyEntry): string {
  const parts: string[] = [];
  const routes = (list: PolicyEntry['listen']) => list.map((r) => `${r.name}:${r.port}`).join(' ');
  if (entry.listen.length > 0) parts.push(`listen ${routes(entry.listen)}`);
  if (entry.open.length > 0) parts.push(`open ${routes(entry.open)}`);
  if (entry.noPortForwarding && parts.length > 0) parts.push('(no-port-forwarding: none of it)');
  if (parts.length === 0) parts.push('nothing');
  if (entry.from !== undefined) parts.push(`from ${entry.from.text}`);
  if (entry.expiresAt !== undefined) parts.push(`until ${new Date(entry.expiresAt).toISOString()}`);
  return parts.join(', ');
}
