import { isIP } from 'node:net';
import { DEFAULT_SSH_PORT, SOCKET_SUFFIX } from './constants.js';

/**
 * Device names and routes. A route is a name plus a port (`dev1:22`). Names are what devices
 * register and clients dial; they are never addresses, so a relay that only routes to names cannot
 * be turned into a proxy to arbitrary hosts.
 */
export interface Route {
  readonly name: string;
  readonly port: number;
}

export type NameCheck = { ok: true; name: string } | { ok: false; reason: string };

const NAME_RE =
  /^[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?)*$/;
const RESERVED = new Set(['localhost', 'ip6-localhost', 'ip6-loopback', 'any', 'broadcasthost']);

/** Longest input looked at; anything longer is refused before it is normalised. */
const MAX_RAW_NAME = 1024;
/** One part of an IPv4 address as inet_aton(3) reads it: decimal, octal (0…) or hex (0x…). */
const INET_ATON_PART = /^(?:0x[0-9a-f]*|[0-9]+)$/;

/**
 * True for every spelling that a resolver would take as an IPv4 address (`127.1`, `0x7f000001`,
 * `2130706433`, `010.0.0.1`): one to four dot-separated numbers in inet_aton's forms.
 */
export function isInetAtonSpelling(name: string): boolean {
  const parts = name.split('.');
  return parts.length <= 4 && parts.every((p) => INET_ATON_PART.test(p));
}

/**
 * Normalises a name once (Unicode NFKC, then lower case: what is audited is what is routed) and
 * says whether it may be registered or dialled. Refuses addresses in any spelling, wildcard binds
 * (`""`, `*`) and loopback aliases: those are what plain `ssh -R PORT:…` sends when no name was
 * given, and they must never become routes.
 */
export function checkName(raw: string): NameCheck {
  if (raw.length > MAX_RAW_NAME) return { ok: false, reason: 'name longer than 253 characters' };
  const name = raw.normalize('NFKC').toLowerCase();
  if (name === '' || name === '*') return { ok: false, reason: 'no name given (use NAME:PORT)' };
  if (name.length > 253) return { ok: false, reason: 'name longer than 253 characters' };
  if (isIP(name) !== 0 || isIP(name.replace(/^\[|\]$/g, '')) !== 0 || isInetAtonSpelling(name)) {
    return { ok: false, reason: 'an address is not a name' };
  }
  if (RESERVED.has(name)) return { ok: false, reason: `"${name}" is reserved` };
  if (!NAME_RE.test(name)) {
    return { ok: false, reason: 'names use letters, digits, "-", "_" and "." only' };
  }
  return { ok: true, name };
}

export function isValidPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

export function routeKey(route: Route): string {
  return `${route.name}:${route.port}`;
}

/** The name a stream-local path registers: its last path component without `.sock`. */
export function nameFromSocketPath(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base.endsWith(SOCKET_SUFFIX) ? base.slice(0, -SOCKET_SUFFIX.length) : base;
}

/** Route for a stream-local registration or an `nc -U` exec: always port 22. */
export function routeFromSocketPath(path: string): Route | undefined {
  const check = checkName(nameFromSocketPath(path));
  return check.ok ? { name: check.name, port: DEFAULT_SSH_PORT } : undefined;
}

/**
 * Recognises exactly `nc -U <path>` (the zero-code recipe's ProxyCommand), optionally with the
 * path in single or double quotes. Anything else is not a connection request.
 */
export function parseNcExec(command: string): string | undefined {
  const m = /^\s*nc\s+-U\s+(?:'([^']+)'|"([^"]+)"|(\S+))\s*$/.exec(command);
  if (!m) return undefined;
  return m[1] ?? m[2] ?? m[3];
}
