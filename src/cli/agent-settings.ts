import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AgentConfig, Forward } from '../agent/index.js';
import { type HostKeyTrust, hostKeyTrust } from '../agent/index.js';
import { configError } from '../core/errors.js';
import { checkName } from '../core/names.js';
import { parseHostKey } from '../ssh/index.js';
import { defaultDataDir } from './data-dir.js';
import type { LogFormat } from './log-format.js';
import { parseCount, parseDuration, parseForwardSpec, parseRelayList } from './parse.js';

/**
 * `burrow agent` flags, as commander hands them over (strings; validated here, not there), and
 * the settings they become. Shared by `agent` and `agent systemd-unit`, so a unit is only ever
 * printed for flags the agent itself would accept.
 */
/** Port assumed for a relay given without one (the relay's default listen port). */
export const DEFAULT_RELAY_PORT = 2222;

export interface AgentFlags {
  name?: string;
  relay?: string;
  identity?: string;
  forward?: string[];
  relayHostKey?: string[];
  knownHosts?: string;
  acceptNew?: boolean;
  user?: string;
  keepaliveInterval: string;
  keepaliveCount: string;
  connectTimeout: string;
  statusFile?: string;
  config?: string;
  logLevel: string;
  logFormat?: LogFormat;
}

export interface Settings {
  readonly name: string;
  readonly config: AgentConfig;
  readonly identityPath: string;
  readonly knownHosts: string;
  readonly statusFile: string;
  readonly trust: HostKeyTrust;
}

/** Every flag checked, and the identity read; throws CONFIG_INVALID naming the flag. */
export function settingsFrom(flags: AgentFlags): Settings {
  if (!flags.name) throw configError('--name is required: the name this device registers');
  const nameCheck = checkName(flags.name);
  if (!nameCheck.ok) throw configError(`--name: "${flags.name}": ${nameCheck.reason}`);
  const name = nameCheck.name;
  if (!flags.relay) throw configError('--relay is required: HOST:PORT of one or more relays');
  const relays = parseRelayList('--relay', flags.relay, DEFAULT_RELAY_PORT);
  if (!flags.identity) throw configError("--identity is required: the device's private key file");
  const specs = flags.forward && flags.forward.length > 0 ? flags.forward : ['22=localhost:22'];
  const forwards: Forward[] = specs.map((s) => ({ name, ...parseForwardSpec('--forward', s) }));
  const ports = new Set<number>();
  for (const f of forwards) {
    if (ports.has(f.port)) throw configError(`--forward: port ${f.port} is given twice`);
    ports.add(f.port);
  }
  const keepaliveIntervalMs = parseDuration('--keepalive-interval', flags.keepaliveInterval);
  if (keepaliveIntervalMs < 100) throw configError('--keepalive-interval: at least 100ms');
  const dataDir = defaultDataDir();
  const knownHosts = resolve(flags.knownHosts ?? join(dataDir, 'known_hosts'));
  const trust = hostKeyTrust({
    pinned: flags.relayHostKey ?? [],
    knownHostsFile: knownHosts,
    acceptNew: flags.acceptNew === true,
  });
  const identityPath = resolve(flags.identity);
  const privateKey = readIdentity(identityPath);
  return {
    name,
    identityPath,
    knownHosts,
    trust,
    statusFile: resolve(flags.statusFile ?? join(dataDir, `agent-${name}.json`)),
    config: {
      relays,
      forwards,
      privateKey,
      username: flags.user ?? name,
      keepaliveIntervalMs,
      keepaliveCountMax: parseCount('--keepalive-count', flags.keepaliveCount, 1, 100),
      connectTimeoutMs: parseDuration('--connect-timeout', flags.connectTimeout),
      backoff: { baseMs: 500, capMs: 30_000 },
      leaveTimeoutMs: 60_000,
      dialTimeoutMs: 10_000,
    },
  };
}

/** Reads the device key, refusing one that others can read (as ssh does). */
export function readIdentity(path: string): string {
  let text: string;
  try {
    const st = statSync(path);
    if ((st.mode & 0o077) !== 0) {
      throw configError(
        `--identity: ${path} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); run: chmod 600 ${path}`,
      );
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as { code?: string }).code === 'CONFIG_INVALID') throw err;
    throw configError(`--identity: cannot read ${path}: ${(err as NodeJS.ErrnoException).code}`);
  }
  try {
    parseHostKey(text, path, 'identity key');
  } catch (err) {
    throw configError(`--identity: ${(err as Error).message}`);
  }
  return text;
}
