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
  coordinator?: string;
  coordinatorTokenFile?: string;
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
  /** `--coordinator` and its token: where the agent asks for a relay. */
  readonly coordinator?: { readonly url: string; readonly token?: string | undefined };
}

/** Every flag checked, and the identity read; throws CONFIG_INVALID naming the flag. */
export function settingsFrom(flags: AgentFlags): Settings {
  if (!flags.name) throw configError('--name is required: the name this device registers');
  const nameCheck = checkName(flags.name);
  if (!nameCheck.ok) throw configError(`--name: "${flags.name}": ${nameCheck.reason}`);
  const name = nameCheck.name;
  const coordinator = coordinatorFrom(flags);
  if (!flags.relay && !coordinator) {
    throw configError(
      '--relay is required unless --coordinator is given: HOST:PORT of one or more relays',
    );
  }
  const relays = flags.relay ? parseRelayList('--relay', flags.relay, DEFAULT_RELAY_PORT) : [];
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
  // A relay only the coordinator named is never trusted on first use: a coordinator (or anyone
  // who can write to its registry) must not be able to send devices to a host of their choosing.
  const trust = hostKeyTrust({
    pinned: flags.relayHostKey ?? [],
    knownHostsFile: knownHosts,
    acceptNew: flags.acceptNew === true,
    firstUseFor: new Set(relays.map((r) => `${r.host}:${r.port}`)),
  });
  const identityPath = resolve(flags.identity);
  const privateKey = readIdentity(identityPath);
  return {
    name,
    identityPath,
    knownHosts,
    trust,
    ...(coordinator ? { coordinator } : {}),
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

/** Longest token file read: a bearer token is a line, not a document. */
const MAX_TOKEN_BYTES = 4096;

/** `--coordinator URL` (http or https, no credentials in it) and `--coordinator-token-file`. */
function coordinatorFrom(flags: AgentFlags): Settings['coordinator'] {
  if (flags.coordinatorTokenFile && !flags.coordinator) {
    throw configError('--coordinator-token-file is given without --coordinator');
  }
  if (!flags.coordinator) return undefined;
  let url: URL;
  try {
    url = new URL(flags.coordinator);
  } catch {
    throw configError(
      `--coordinator: expected a URL like http://127.0.0.1:8080, got "${flags.coordinator}"`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw configError(`--coordinator: expected an http:// or https:// URL, got ${url.protocol}`);
  }
  if (url.username || url.password) {
    throw configError('--coordinator: put no credentials in the URL; use --coordinator-token-file');
  }
  if (url.search || url.hash) {
    throw configError('--coordinator: the URL takes no query or fragment');
  }
  const file = flags.coordinatorTokenFile;
  return { url: url.toString(), token: file === undefined ? undefined : readToken(file) };
}

function readToken(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw configError(
      `--coordinator-token-file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code}`,
    );
  }
  const token = text.trim();
  if (token === '') throw configError(`--coordinator-token-file: ${file} is empty`);
  if (Buffer.byteLength(text) > MAX_TOKEN_BYTES || /\s/.test(token)) {
    throw configError(
      `--coordinator-token-file: ${file} must hold one token (no spaces, one line)`,
    );
  }
  return token;
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
