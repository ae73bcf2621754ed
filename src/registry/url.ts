/**
 * `--registry URL`: which shared registry a relay uses. Pure: no I/O.
 *
 *   memory                                              this process only (the default)
 *   redis://[user:pass@]host[:port][/db]                one Redis (port 6379, db 0 by default)
 *   rediss://[user:pass@]host[:port][/db]               the same over TLS
 *   redis-sentinel://[user:pass@]h[:p][,h[:p]…]/MASTER[/db]
 *                                                       the master named MASTER, found through
 *                                                       these sentinels (port 26379 by default)
 *
 * In the sentinel form the credentials are the master's (and its replicas'); the sentinels are
 * asked without them. User and password may be percent-encoded. IPv6 hosts go in brackets.
 *
 * Every error is a CONFIG_INVALID naming `--registry`, and quotes the URL with its password
 * replaced by `***` (see maskRegistryUrl), so no message or log line ever carries it.
 */
import { configError } from '../core/errors.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export type RegistryTarget =
  | { readonly kind: 'memory' }
  | {
      readonly kind: 'redis';
      readonly tls: boolean;
      readonly host: string;
      readonly port: number;
      readonly username?: string;
      readonly password?: string;
      readonly db: number;
      /** The URL with the password masked: safe for messages and logs. */
      readonly display: string;
    }
  | {
      readonly kind: 'sentinel';
      readonly sentinels: readonly HostPort[];
      readonly master: string;
      readonly username?: string;
      readonly password?: string;
      readonly db: number;
      readonly display: string;
    };

const REDIS_PORT = 6379;
const SENTINEL_PORT = 26379;
const MAX_DB = 65535;

/**
 * `raw` with the password part of its user info replaced by `***` (`user:***@`), or all of the
 * user info when it has no `:` (`***@`). Never throws.
 */
export function maskRegistryUrl(raw: string): string {
  const scheme = raw.indexOf('://');
  if (scheme < 0) return raw;
  const rest = raw.slice(scheme + 3);
  const at = rest.lastIndexOf('@');
  if (at < 0) return raw;
  const userinfo = rest.slice(0, at);
  const colon = userinfo.indexOf(':');
  // Some tools read `scheme://secret@host` as a password: a lone user part is masked too.
  if (colon < 0) return `${raw.slice(0, scheme + 3)}***${rest.slice(at)}`;
  return `${raw.slice(0, scheme + 3)}${userinfo.slice(0, colon)}:***${rest.slice(at)}`;
}

/** Parses a `--registry` value; throws CONFIG_INVALID saying what is wrong. */
export function parseRegistryUrl(raw: string): RegistryTarget {
  const value = raw.trim();
  if (value === 'memory') return { kind: 'memory' };
  const display = maskRegistryUrl(value);
  const fail = (why: string): never => {
    throw configError(`--registry ${display}: ${why}`);
  };
  const match = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(value);
  if (!match) {
    return fail('expected memory, redis://, rediss:// or redis-sentinel://');
  }
  const scheme = (match[1] ?? '').toLowerCase();
  if (scheme !== 'redis' && scheme !== 'rediss' && scheme !== 'redis-sentinel') {
    return fail(`unknown scheme ${scheme}://; expected redis://, rediss:// or redis-sentinel://`);
  }
  let rest = match[2] ?? '';
  if (/[?#]/.test(rest)) return fail('query strings and fragments are not supported');

  let username: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = userinfo.indexOf(':');
    const user = colon < 0 ? userinfo : userinfo.slice(0, colon);
    const pass = colon < 0 ? undefined : userinfo.slice(colon + 1);
    try {
      if (user) username = decodeURIComponent(user);
      if (pass) password = decodeURIComponent(pass);
    } catch {
      return fail('bad percent-encoding in the user or password');
    }
  }

  const slash = rest.indexOf('/');
  const hostList = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? [] : rest.slice(slash + 1).split('/');
  const defaultPort = scheme === 'redis-sentinel' ? SENTINEL_PORT : REDIS_PORT;
  const hosts = hostList.split(',').map((h) => parseHost(h, defaultPort, fail));
  const creds = {
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
  };

  if (scheme === 'redis-sentinel') {
    const [master, db, ...extra] = path;
    if (!master) return fail('missing the master name: redis-sentinel://host:port/MASTER');
    if (extra.length > 0) return fail('expected /MASTER or /MASTER/db after the hosts');
    return {
      kind: 'sentinel',
      sentinels: hosts,
      master: decodeOrFail(master, fail),
      ...creds,
      db: parseDb(db, fail),
      display,
    };
  }
  if (hosts.length !== 1) {
    return fail(`${scheme}:// takes one host; use redis-sentinel:// for several`);
  }
  const [db, ...extra] = path;
  if (extra.length > 0) return fail('expected at most /db after the host');
  const [only] = hosts as [HostPort];
  return {
    kind: 'redis',
    tls: scheme === 'rediss',
    host: only.host,
    port: only.port,
    ...creds,
    db: parseDb(db, fail),
    display,
  };
}

function parseHost(text: string, defaultPort: number, fail: (why: string) => never): HostPort {
  if (text === '') return fail('missing host');
  const bracketed = /^\[([0-9a-f:.]+)\](?::(.*))?$/i.exec(text);
  let host: string;
  let port: string | undefined;
  if (bracketed) {
    host = bracketed[1] ?? '';
    port = bracketed[2];
  } else {
    const parts = text.split(':');
    if (parts.length > 2) return fail(`bad host ${text} (put an IPv6 address in brackets)`);
    host = parts[0] ?? '';
    port = parts[1];
  }
  if (!/^[a-z0-9_.:-]+$/i.test(host)) return fail(`bad host ${JSON.stringify(host)}`);
  if (port === undefined) return { host, port: defaultPort };
  const n = /^\d{1,5}$/.test(port) ? Number(port) : Number.NaN;
  if (!(n >= 1 && n <= 65535)) return fail(`bad port ${JSON.stringify(port)} (1-65535)`);
  return { host, port: n };
}

function parseDb(text: string | undefined, fail: (why: string) => never): number {
  if (text === undefined || text === '') return 0;
  const n = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= 0 && n <= MAX_DB)) return fail(`bad database number ${JSON.stringify(text)}`);
  return n;
}

function decodeOrFail(text: string, fail: (why: string) => never): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return fail('bad percent-encoding in the master name');
  }
}
