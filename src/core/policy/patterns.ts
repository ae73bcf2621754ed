import { isIP } from 'node:net';
import { quote } from './quote.js';

/**
 * Pattern matching for authorized_keys options: `*`/`?` globs (OpenSSH match.c match_pattern),
 * `from=` source-address lists (addrmatch.c addr_match_list plus match.c match_host_and_ip, with
 * no DNS), and the `NAME:PORT` patterns of permitlisten/permitopen.
 */

/**
 * `*` matches any run of characters (including none), `?` exactly one; everything else matches
 * itself, ignoring case. Runs in O(pattern × subject) time whatever the input.
 */
export function matchGlob(pattern: string, subject: string): boolean {
  const p = pattern.toLowerCase();
  const s = subject.toLowerCase();
  let pi = 0;
  let si = 0;
  let starP = -1;
  let starS = 0;
  while (si < s.length) {
    if (pi < p.length && (p[pi] === '?' || (p[pi] !== '*' && p[pi] === s[si]))) {
      pi++;
      si++;
    } else if (pi < p.length && p[pi] === '*') {
      starP = pi++;
      starS = si;
    } else if (starP >= 0) {
      pi = starP + 1;
      si = ++starS;
    } else {
      return false;
    }
  }
  while (p[pi] === '*') pi++;
  return pi === p.length;
}

/** An IP address as bytes; IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is always reduced to IPv4. */
export interface IpAddress {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
}

/** Parses a textual IPv4 or IPv6 address (an IPv6 zone `%…` is dropped). */
export function parseIp(text: string): IpAddress | undefined {
  const bare = text.includes('%') && isIP(text) === 6 ? text.slice(0, text.indexOf('%')) : text;
  const family = isIP(bare);
  if (family === 4) return { family: 4, bytes: parseV4(bare) };
  if (family !== 6) return undefined;
  const bytes = parseV6(bare);
  const mapped = bytes.subarray(0, 12).every((b, i) => b === (i < 10 ? 0 : 0xff));
  return mapped ? { family: 4, bytes: bytes.slice(12) } : { family: 6, bytes };
}

/** Text form sshd would log for an address (inet_ntop: lower case, longest zero run as `::`). */
export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) return ip.bytes.join('.');
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((ip.bytes[i]! << 8) | ip.bytes[i + 1]!);
  let best = { base: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > best.len) best = { base: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  if (best.len < 2) best = { base: -1, len: 0 };
  const v4tail = ip.bytes.subarray(12).join('.');
  if (best.base === 0 && best.len === 6) return `::${v4tail}`;
  if (best.base === 0 && best.len === 5 && words[5] === 0xffff) return `::ffff:${v4tail}`;
  const hex = words.map((w) => w.toString(16));
  if (best.base < 0) return hex.join(':');
  const head = hex.slice(0, best.base).join(':');
  const tail = hex.slice(best.base + best.len).join(':');
  return `${head}::${tail}`;
}

/** Bytes of an address `isIP` already accepted as IPv4. */
function parseV4(text: string): Uint8Array {
  return Uint8Array.from(text.split('.'), Number);
}

/** Bytes of an address `isIP` already accepted as IPv6 (no zone), embedded IPv4 tail included. */
function parseV6(text: string): Uint8Array {
  const toWords = (part: string): number[] => {
    if (part === '') return [];
    const words: number[] = [];
    for (const group of part.split(':')) {
      if (group.includes('.')) {
        const [a, b, c, d] = parseV4(group);
        words.push((a! << 8) | b!, (c! << 8) | d!);
      } else {
        words.push(Number.parseInt(group, 16));
      }
    }
    return words;
  };
  const gap = text.indexOf('::');
  const head = toWords(gap < 0 ? text : text.slice(0, gap));
  const tail = gap < 0 ? [] : toWords(text.slice(gap + 2));
  const words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  words.forEach((w, i) => {
    bytes[i * 2] = w >> 8;
    bytes[i * 2 + 1] = w & 0xff;
  });
  return bytes;
}

/** One element of a `from=` list. */
export type AddressPattern =
  | {
      readonly negated: boolean;
      readonly kind: 'cidr';
      readonly net: IpAddress;
      readonly bits: number;
    }
  | { readonly negated: boolean; readonly kind: 'glob'; readonly glob: string };

export interface AddressPatternList {
  /** The list as written in the file. */
  readonly text: string;
  readonly patterns: readonly AddressPattern[];
}

export type AddressListParse =
  | { ok: true; list: AddressPatternList }
  | { ok: false; message: string };

/**
 * Parses a `from=` pattern list. Each comma-separated element, optionally prefixed by `!`, is an
 * address, a CIDR block (`10.0.0.0/8`, `2001:db8::/32`; host bits must be zero, as OpenSSH
 * requires) or a `*`/`?` glob over the address text. Host names are refused: burrow does no DNS,
 * so a name could never match.
 */
export function parseAddressPatternList(text: string): AddressListParse {
  const patterns: AddressPattern[] = [];
  for (const element of text.split(',')) {
    const negated = element.startsWith('!');
    const body = negated ? element.slice(1) : element;
    const parsed = parseAddressPattern(body);
    if (typeof parsed === 'string') return { ok: false, message: `from=: ${parsed}` };
    patterns.push(
      parsed.kind === 'cidr'
        ? { negated, kind: 'cidr', net: parsed.net, bits: parsed.bits }
        : { negated, kind: 'glob', glob: parsed.glob },
    );
  }
  return { ok: true, list: { text, patterns } };
}

type PatternBody = { kind: 'cidr'; net: IpAddress; bits: number } | { kind: 'glob'; glob: string };

function parseAddressPattern(body: string): PatternBody | string {
  if (body === '') return 'empty pattern';
  if (/\s/.test(body)) return `pattern ${quote(body)} contains a blank`;
  const slash = body.indexOf('/');
  if (slash >= 0) return parseCidr(body, body.slice(0, slash), body.slice(slash + 1));
  if (body.includes('%')) return `pattern ${quote(body)}: zone ids are not supported`;
  const ip = parseIp(body);
  if (ip !== undefined) return { kind: 'cidr', net: ip, bits: ip.family === 4 ? 32 : 128 };
  const v4ish = /^[0-9.*?]+$/.test(body);
  const v6ish = body.includes(':') && /^[0-9a-fA-F:.*?]+$/.test(body);
  if (!v4ish && !v6ish) {
    return `${quote(body)} is a host name; burrow matches source addresses only`;
  }
  if (!/[*?]/.test(body)) return `${quote(body)} is not a valid address`;
  return { kind: 'glob', glob: body.toLowerCase() };
}

function parseCidr(body: string, addr: string, bitsText: string): PatternBody | string {
  const bad = `${quote(body)} is not a valid CIDR block`;
  if (addr.includes('%') || !/^\d{1,3}$/.test(bitsText)) return bad;
  const written = isIP(addr);
  const ip = parseIp(addr);
  if (ip === undefined || (written !== 4 && written !== 6)) return bad;
  let bits = Number(bitsText);
  if (bits > (written === 4 ? 32 : 128)) return bad;
  if (written === 6 && ip.family === 4) {
    // A mapped block (::ffff:a.b.c.d/n, n >= 96) is the IPv4 block it names.
    if (bits < 96) return bad;
    bits -= 96;
  }
  if (!hostBitsZero(ip.bytes, bits)) {
    return `${quote(body)} has bits set after the /${bitsText} prefix`;
  }
  return { kind: 'cidr', net: ip, bits };
}

function hostBitsZero(bytes: Uint8Array, bits: number): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    const mask = keep === 8 ? 0 : 0xff >> keep;
    if ((bytes[i]! & mask) !== 0) return false;
  }
  return true;
}

function inBlock(ip: IpAddress, net: IpAddress, bits: number): boolean {
  if (ip.family !== net.family) return false;
  for (let i = 0; i < net.bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    const mask = (0xff00 >> keep) & 0xff;
    if ((ip.bytes[i]! & mask) !== (net.bytes[i]! & mask)) return false;
  }
  return true;
}

/**
 * Matches a source address against a `from=` list. `negated` means a `!` element matched, which
 * denies at once whatever else matches; `match` means some positive element matched and no
 * negated one did. Only `match` may be read as permission. A source that is not an IP address
 * matches nothing.
 */
export function matchAddressList(
  list: AddressPatternList,
  source: string,
): 'match' | 'no-match' | 'negated' {
  const ip = parseIp(source);
  if (ip === undefined) return 'no-match';
  const text = formatIp(ip);
  let matched = false;
  for (const p of list.patterns) {
    const hit = p.kind === 'cidr' ? inBlock(ip, p.net, p.bits) : matchGlob(p.glob, text);
    if (!hit) continue;
    if (p.negated) return 'negated';
    matched = true;
  }
  return matched ? 'match' : 'no-match';
}

/** A permitlisten/permitopen pattern: lower-case name glob and port glob (or plain digits). */
export interface RoutePattern {
  readonly name: string;
  readonly port: string;
}

export type RoutePatternParse =
  | { ok: true; pattern: RoutePattern }
  | { ok: false; message: string };

const NAME_GLOB_RE = /^[a-z0-9._*?-]+$/;
const PORT_GLOB_RE = /^[0-9*?]+$/;

/**
 * Parses `NAME:PORT`. NAME may use `*` and `?` and is lower-cased; PORT is a number in 1..65535
 * or a glob over the decimal port. A missing `:PORT` or an empty NAME is an error.
 */
export function parseRoutePattern(text: string): RoutePatternParse {
  const colon = text.lastIndexOf(':');
  if (colon < 0) return { ok: false, message: `${quote(text)} needs NAME:PORT` };
  const name = text.slice(0, colon).toLowerCase();
  const port = text.slice(colon + 1);
  if (name === '') return { ok: false, message: `${quote(text)} has an empty name` };
  if (!NAME_GLOB_RE.test(name)) {
    return {
      ok: false,
      message: `${quote(text)}: names use letters, digits, "-", "_", "." and the globs "*", "?"`,
    };
  }
  if (!PORT_GLOB_RE.test(port)) return { ok: false, message: `${quote(text)} has a bad port` };
  if (/^\d+$/.test(port)) {
    const n = Number(port);
    if (n < 1 || n > 65535) return { ok: false, message: `${quote(text)} has a bad port` };
    return { ok: true, pattern: { name, port: String(n) } };
  }
  return { ok: true, pattern: { name, port } };
}

/** True when `name:port` falls under the pattern; names compare case-insensitively. */
export function matchRoutePattern(pattern: RoutePattern, name: string, port: number): boolean {
  if (!Number.isInteger(port) || port < 1 || port > 65535) return false;
  return matchGlob(pattern.name, name) && matchGlob(pattern.port, String(port));
}
