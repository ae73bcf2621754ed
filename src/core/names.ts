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

/**
 * Normalises a name (lower case) and says whether it may be registered or dialled.
 * Refuses IP literals, wildcard binds (`""`, `*`) and loopback aliases: those are what plain
 * `ssh -R PORT:…` sends when no name was given, and they must never become routes.
 */
export function checkName(raw: string): NameCheck {
  const name = raw.toLowerCase();
  if (name === '' || name === '*') return { ok: false, reason: 'no name given (use NAME:PORT)' };
  if (name.length > 253) return { ok: false, reason: 'name longer than 253 characters' };
  if (isIP(name) !== 0 || isIP(name.replace(/^\[|\]$/g, '')) !== 0) {
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
