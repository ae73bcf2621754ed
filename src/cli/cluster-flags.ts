import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { type PeerSet, parsePeers } from '../cluster/index.js';
import { configError } from '../core/errors.js';
import { parseHostPort } from './parse.js';

/** The cluster flags of `burrow relay`, checked; touches nothing. */
export interface ClusterFlags {
  readonly peers?: string;
  readonly advertise?: string;
  readonly registry: string;
}

const WILDCARDS = new Set(['0.0.0.0', '::', '']);

/**
 * `--advertise` as published in the relay record (undefined: the listen address). Throws
 * CONFIG_INVALID, naming the flag, for a bad address, or for a shared registry with --peers and a
 * wildcard listen address that other relays could not dial.
 */
export function advertisedAddress(flags: ClusterFlags, listenHost: string): string | undefined {
  if (flags.advertise !== undefined) {
    const a = parseHostPort('--advertise', flags.advertise, '');
    if (WILDCARDS.has(a.host) || a.port === 0) {
      throw configError(
        `--advertise: "${flags.advertise}" is not an address other relays can dial; give HOST:PORT`,
      );
    }
    return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
  }
  if (flags.peers !== undefined && flags.registry !== 'memory' && WILDCARDS.has(listenHost)) {
    throw configError(
      `--advertise is required with --peers and a shared --registry when --listen is ${listenHost || 'a wildcard'}: ` +
        'other relays need an address they can dial (e.g. --advertise 10.0.0.5:2222)',
    );
  }
  return undefined;
}

/** Reads `--peers FILE`; bad lines are logged as file:line and skipped. */
export function loadPeers(path: string, log: Logger): PeerSet {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw configError(`--peers: cannot read ${path}: ${(err as NodeJS.ErrnoException).code}`, err);
  }
  const { peers, errors } = parsePeers(text, path);
  for (const e of errors) log.warn({ line: e.line }, `--peers: ${e.message} (line skipped)`);
  log.info({ file: path, peers: peers.size }, 'peer relays loaded');
  return peers;
}
