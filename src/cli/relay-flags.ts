import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { configError } from '../core/errors.js';
import type { RelayConfig } from '../relay/index.js';
import { advertisedAddress } from './cluster-flags.js';
import type { LogFormat } from './log-format.js';
import { parseCount, parseDuration, parseHostPort, parseList } from './parse.js';
import { parseMaxStartups, parsePenalties } from './startup-flags.js';

/** `burrow relay`'s flags as commander hands them over (strings, before any checking). */
export interface RelayFlags {
  listen: string;
  hostKey?: string;
  authorizedKeys?: string;
  auditLog: string;
  relayId?: string;
  keepaliveInterval: string;
  keepaliveCount: string;
  loginGraceTime: string;
  maxAuthTries: string;
  maxStartups?: string;
  maxStartupsPerSource: string;
  maxConnectionsPerKey: string;
  maxConnectionsPerSource: string;
  perSourcePenalties?: string;
  maxChannels: string;
  drainGrace: string;
  ciphers?: string;
  logLevel: string;
  logFormat?: LogFormat;
  registry: string;
  peers?: string;
  advertise?: string;
  registryTtl: string;
  heartbeatInterval: string;
  capacity: string;
}

/** Every flag parsed and checked; throws CONFIG_INVALID naming the flag. Touches nothing. */
export function parseRelayFlags(flags: RelayFlags): Omit<RelayConfig, 'hostKey'> {
  const listen = parseHostPort('--listen', flags.listen);
  const advertise = advertisedAddress(flags, listen.host);
  return {
    ...(advertise ? { advertise } : {}),
    relayId: flags.relayId ?? `${hostname()}:${listen.port}#${randomBytes(4).toString('hex')}`,
    host: listen.host,
    port: listen.port,
    keepaliveIntervalMs: parseDuration('--keepalive-interval', flags.keepaliveInterval),
    keepaliveCountMax: parseCount('--keepalive-count', flags.keepaliveCount, 1, 100),
    loginGraceMs: parseDuration('--login-grace-time', flags.loginGraceTime),
    maxAuthTries: parseCount('--max-auth-tries', flags.maxAuthTries, 1, 100),
    maxStartups: parseMaxStartups('--max-startups', flags.maxStartups),
    maxStartupsPerSource: parseCount('--max-startups-per-source', flags.maxStartupsPerSource),
    maxConnectionsPerKey: parseCount('--max-connections-per-key', flags.maxConnectionsPerKey),
    maxConnectionsPerSource: parseCount(
      '--max-connections-per-source',
      flags.maxConnectionsPerSource,
    ),
    ...penaltiesOf(parsePenalties('--per-source-penalties', flags.perSourcePenalties)),
    maxChannels: parseCount('--max-channels', flags.maxChannels),
    drainGraceMs: parseDuration('--drain-grace', flags.drainGrace),
    ...registryTimings(flags),
    capacity: parseCount('--capacity', flags.capacity, 0, 100_000_000),
    ...(flags.ciphers ? { ciphers: parseList(flags.ciphers) } : {}),
  };
}

/** `--registry-ttl` and `--heartbeat-interval`: a record must survive one lost heartbeat. */
function registryTimings(
  flags: RelayFlags,
): Pick<RelayConfig, 'registryTtlMs' | 'heartbeatIntervalMs'> {
  const registryTtlMs = parseDuration('--registry-ttl', flags.registryTtl);
  const heartbeatIntervalMs = parseDuration('--heartbeat-interval', flags.heartbeatInterval);
  if (heartbeatIntervalMs < 100) {
    throw configError(
      `--heartbeat-interval: must be at least 100ms, got "${flags.heartbeatInterval}"`,
    );
  }
  if (heartbeatIntervalMs * 2 >= registryTtlMs) {
    throw configError(
      `--heartbeat-interval: must be under half of --registry-ttl (${flags.registryTtl}), got "${flags.heartbeatInterval}"`,
    );
  }
  return { registryTtlMs, heartbeatIntervalMs };
}

function penaltiesOf(p: RelayConfig['penalties']): Pick<RelayConfig, 'penalties'> {
  return p ? { penalties: p } : {};
}
