import { BurrowError } from '../errors.js';
import { parseExpiryTime } from './expiry.js';
import { fingerprint, type KeyType } from './keys.js';
import { type KeyLine, parseKeyLine } from './options.js';
import {
  type AddressPatternList,
  matchAddressList,
  matchRoutePattern,
  parseAddressPatternList,
  parseRoutePattern,
  type RoutePattern,
} from './patterns.js';
import { quote } from './quote.js';

/**
 * burrow's policy: an OpenSSH authorized_keys file whose options say which names a key may
 * register (permitlisten) and reach (permitopen). Everything here is pure: the caller reads the
 * file and passes the clock.
 */

/** One usable line of the file. Only lines that may authorise a key become entries. */
export interface PolicyEntry {
  readonly file: string;
  /** 1-based line number in `file`. */
  readonly line: number;
  readonly keyType: KeyType;
  /** The key's SSH wire-format blob, compared byte for byte with the key a client offers. */
  readonly keyBlob: Buffer;
  /** `SHA256:…` as `ssh-keygen -l` prints it. */
  readonly fingerprint: string;
  readonly comment?: string;
  readonly listen: readonly RoutePattern[];
  readonly open: readonly RoutePattern[];
  readonly from?: AddressPatternList;
  /** ms since the epoch; the key is refused once the clock is past the whole second named. */
  readonly expiresAt?: number;
  readonly noPortForwarding: boolean;
  /** Session options, for the one-time server (the relay serves no sessions): `command="…"`. */
  readonly command?: string;
  /** False after `no-pty`, or `restrict` not followed by `pty`. */
  readonly pty: boolean;
}

export interface PolicyLineError {
  readonly file: string;
  readonly line: number;
  /** `file:line: reason`, safe to show. */
  readonly message: string;
  /** The reason alone. */
  readonly reason: string;
}

export interface ParsedPolicy {
  readonly entries: PolicyEntry[];
  readonly errors: PolicyLineError[];
}

export type AuthorizeResult =
  | { ok: true; entry: PolicyEntry }
  | { ok: false; reason: 'unknown-key' | 'from-mismatch' | 'expired' };

/**
 * Parses a whole authorized_keys text. A line with any error is skipped and reported; every other
 * line still loads, in file order. `file` is only used to label entries and errors.
 */
export function parseAuthorizedKeys(text: string, file: string): ParsedPolicy {
  const entries: PolicyEntry[] = [];
  const errors: PolicyLineError[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    const parsed = parseKeyLine(raw);
    if (parsed.kind === 'blank') return;
    const result = parsed.kind === 'key' ? buildEntry(parsed.key, file, line) : parsed.message;
    if (typeof result === 'string') {
      errors.push({ file, line, reason: result, message: `${file}:${line}: ${result}` });
    } else {
      entries.push(result);
    }
  });
  return { entries, errors };
}

/** Applies the options of one tokenised line; returns the entry or the reason the line fails. */
function buildEntry(key: KeyLine, file: string, line: number): PolicyEntry | string {
  const listen: RoutePattern[] = [];
  const open: RoutePattern[] = [];
  let from: AddressPatternList | undefined;
  let expiresAt: number | undefined;
  let noPortForwarding = false;
  let certAuthority = false;
  let command: string | undefined;
  let pty = true;
  const seen = new Set<string>();

  for (const { name, value = '' } of key.options) {
    if (ONCE_ONLY.has(name)) {
      if (seen.has(name)) return `more than one ${name}= option`;
      seen.add(name);
    }
    switch (name) {
      case 'permitlisten':
      case 'permitopen': {
        const route = parseRoutePattern(value);
        if (!route.ok) return `${name}=${route.message}`;
        (name === 'permitlisten' ? listen : open).push(route.pattern);
        break;
      }
      case 'from': {
        const list = parseAddressPatternList(value);
        if (!list.ok) return list.message;
        from = list.list;
        break;
      }
      case 'expiry-time': {
        const expiry = parseExpiryTime(value);
        if (!expiry.ok) return `expiry-time=${quote(value)} is not a valid YYYYMMDD[HHMM[SS]][Z]`;
        // Several expiry-time options: the earliest wins, as in OpenSSH.
        expiresAt = expiresAt === undefined ? expiry.at : Math.min(expiresAt, expiry.at);
        break;
      }
      case 'no-port-forwarding':
        noPortForwarding = true;
        break;
      case 'command':
        command = value;
        break;
      case 'restrict':
      case 'no-pty':
        pty = false;
        break;
      case 'pty':
        pty = true;
        break;
      case 'cert-authority':
        certAuthority = true;
        break;
      case 'environment':
        if (!/^[A-Za-z0-9_]+=/.test(value)) return `environment=${quote(value)} needs NAME=value`;
        break;
      case 'tunnel':
        if (!isTunnelId(value)) return `tunnel=${quote(value)} is not "any" or a device number`;
        break;
      default:
        // Other options (X11, agent forwarding, …) govern what burrow never serves.
        break;
    }
  }
  if (certAuthority) {
    return 'cert-authority: burrow does not support certificates; this line authorises nothing';
  }
  if (seen.has('principals')) {
    // sshd refuses a plain key whose line has principals= (auth_authorise_keyopts).
    return 'principals= is only valid with cert-authority, so sshd would refuse this key too';
  }
  return {
    file,
    line,
    keyType: key.keyType,
    keyBlob: key.keyBlob,
    fingerprint: fingerprint(key.keyBlob),
    ...(key.comment === undefined ? {} : { comment: key.comment }),
    listen,
    open,
    ...(from === undefined ? {} : { from }),
    ...(expiresAt === undefined ? {} : { expiresAt }),
    noPortForwarding,
    ...(command === undefined ? {} : { command }),
    pty,
  };
}

/** Options OpenSSH allows at most once per line. */
const ONCE_ONLY: ReadonlySet<string> = new Set(['command', 'principals', 'from']);

/** SSH_TUNID_MAX in OpenSSH. */
const TUNNEL_ID_MAX = 0x7ffffffd;

function isTunnelId(value: string): boolean {
  if (value.toLowerCase() === 'any') return true;
  return /^\d{1,10}$/.test(value) && Number(value) <= TUNNEL_ID_MAX;
}

/**
 * Decides whether a key may log in from `sourceIp` at `now` (ms since the epoch). Like sshd, lines
 * are tried in order and the first whose key matches and whose expiry-time and from= both pass
 * wins. When the key is present but every such line fails, the reason is the first failing line's
 * (expiry is checked before from=, as sshd does).
 */
export function authorize(
  entries: readonly PolicyEntry[],
  keyBlob: Buffer,
  sourceIp: string,
  now: number,
): AuthorizeResult {
  let firstFailure: 'from-mismatch' | 'expired' | undefined;
  for (const entry of entries) {
    if (!entry.keyBlob.equals(keyBlob)) continue;
    const failure = checkEntry(entry, sourceIp, now);
    if (failure === undefined) return { ok: true, entry };
    firstFailure ??= failure;
  }
  return { ok: false, reason: firstFailure ?? 'unknown-key' };
}

function checkEntry(
  entry: PolicyEntry,
  sourceIp: string,
  now: number,
): 'from-mismatch' | 'expired' | undefined {
  // sshd compares whole seconds: valid until the clock passes the second named.
  if (entry.expiresAt !== undefined && Math.floor(now / 1000) * 1000 > entry.expiresAt) {
    return 'expired';
  }
  if (entry.from !== undefined && matchAddressList(entry.from, sourceIp) !== 'match') {
    return 'from-mismatch';
  }
  return undefined;
}

/** May this entry's key register `name:port`? Default deny: only a matching permitlisten allows. */
export function mayListen(entry: PolicyEntry, name: string, port: number): boolean {
  return !entry.noPortForwarding && entry.listen.some((p) => matchRoutePattern(p, name, port));
}

/** May this entry's key connect to `name:port`? Default deny: only a matching permitopen allows. */
export function mayOpen(entry: PolicyEntry, name: string, port: number): boolean {
  return !entry.noPortForwarding && entry.open.some((p) => matchRoutePattern(p, name, port));
}

/** A line error as a typed error, for surfaces that report BurrowErrors. */
export function policyLineError(error: PolicyLineError): BurrowError {
  return new BurrowError('POLICY_LINE_INVALID', error.message);
}
