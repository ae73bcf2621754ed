import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import { configError } from '../core/errors.js';
import { createRegistry, parseRegistryUrl, type Registry } from '../registry/index.js';
import { PolicyFile, type Relay, type RelayConfig, startRelay } from '../relay/index.js';
import { aesGcmForLog, DEFAULT_CIPHERS } from '../ssh/index.js';
import { loadPeers } from './cluster-flags.js';
import { defaultDataDir } from './data-dir.js';
import { envOption, logLevelOption } from './env-option.js';
import { loadOrCreateHostKey, writeNewSecret } from './hostkey.js';
import { type AuditOutput, createLogger, type LogLevel, openAudit } from './log.js';
import { LOG_FORMATS } from './log-format.js';
import { listenForMetrics, metricsListenOption, parseMetricsListen } from './metrics-flag.js';
import { addressInUse } from './port-holder.js';
import { parseRelayFlags, type RelayFlags } from './relay-flags.js';
import { defaultFull } from './startup-flags.js';
import { VERSION } from './version.js';
import {
  authWebhookOption,
  authWebhookTimeoutOption,
  createWebhook,
  parseWebhookFlags,
  type WebhookFlags,
} from './webhook-flags.js';

const AUTHORIZED_KEYS_TEMPLATE = `# burrow relay policy: OpenSSH authorized_keys format, one key per line.
# Default deny: a key registers only what permitlisten allows and reaches only what permitopen allows.
#
#   a device that may register dev1 (ssh -N -R dev1:22:localhost:22 relay):
# permitlisten="dev1:22" ssh-ed25519 AAAA... device-dev1
#   an operator who may reach every device's port 22 from one network:
# permitopen="*:22",from="10.0.0.0/8" ssh-ed25519 AAAA... alice@laptop
#
# The relay re-reads this file when it changes and on SIGHUP.
`;

export function registerRelayCommand(program: Command): void {
  const relay = program
    .command('relay')
    .summary('run a relay: devices register names with ssh -R, clients reach them with ssh -J')
    .description(
      'Runs an SSH relay. Devices register a name with `ssh -N -R NAME:PORT:localhost:PORT relay` ' +
        '(or -R /path/NAME.sock:localhost:22); clients reach it with `ssh -J relay user@NAME`, ' +
        '`ssh -W NAME:PORT relay`, `ssh -L LPORT:NAME:PORT relay` or ' +
        '`ssh relay nc -U /path/NAME.sock`.\n\n' +
        'What each key may register and reach comes from an authorized_keys file (permitlisten, ' +
        'permitopen, from, expiry-time); everything else is denied. SIGHUP reloads it; SIGTERM ' +
        'drains (agents move to another relay first). Every flag can also be set as BURROW_<FLAG>.',
    );
  addRelayOptions(relay).action(async (flags: RelayCliFlags) => {
    const running = await openRelay(flags);
    stopOnSignals(running);
    running.announce();
  });
}

/** The relay's flags, on `burrow relay` and on `burrow serve` (which runs a relay). */
export function addRelayOptions(command: Command): Command {
  return command
    .addOption(envOption('--listen <host:port>', 'address to listen on', 'LISTEN', '0.0.0.0:2222'))
    .addOption(
      envOption(
        '--host-key <file>',
        'ed25519 host key; created (0600) if missing [default: <data-dir>/relay_host_ed25519_key]',
        'HOST_KEY',
      ),
    )
    .addOption(
      envOption(
        '--authorized-keys <file>',
        'policy file in authorized_keys format [default: <data-dir>/authorized_keys]',
        'AUTHORIZED_KEYS',
      ),
    )
    .addOption(
      envOption('--audit-log <file|->', 'JSON-lines audit trail; "-" is stdout', 'AUDIT_LOG', '-'),
    )
    .addOption(
      envOption(
        '--relay-id <id>',
        'name of this relay in logs and the registry [default: hostname:port#<random per start>]',
        'RELAY_ID',
      ),
    )
    .addOption(
      envOption(
        '--keepalive-interval <duration>',
        'probe every connection this often',
        'KEEPALIVE_INTERVAL',
        '5s',
      ),
    )
    .addOption(
      envOption(
        '--keepalive-count <n>',
        'drop a connection after this many unanswered probes',
        'KEEPALIVE_COUNT',
        '3',
      ),
    )
    .addOption(
      envOption(
        '--login-grace-time <duration>',
        'time allowed to authenticate',
        'LOGIN_GRACE_TIME',
        '20s',
      ),
    )
    .addOption(
      envOption(
        '--max-auth-tries <n>',
        'failed authentication attempts before disconnect',
        'MAX_AUTH_TRIES',
        '6',
      ),
    )
    .addOption(
      envOption(
        '--max-startups <start:rate:full>',
        'unauthenticated connections: from START on refuse RATE% rising to all at FULL ' +
          "(a lone FULL means FULL/2:30:FULL; an address's first is only refused at FULL) " +
          `[default: FULL is 1/64 of memory at 64 KiB each, 256..4096; here ${defaultFull()}]`,
        'MAX_STARTUPS',
      ),
    )
    .addOption(
      envOption(
        '--max-startups-per-source <n>',
        'unauthenticated connections allowed at once from one address (IPv6: one /64)',
        'MAX_STARTUPS_PER_SOURCE',
        '32',
      ),
    )
    .addOption(
      envOption(
        '--max-connections-per-key <n>',
        'authenticated connections serving no name allowed at once per key (OpenSSH has no ' +
          'such limit: it keeps a leaked or do-nothing key from holding thousands of sockets; ' +
          'a connection serving names does not count, so a device reconnecting while its old ' +
          'connection lingers is not refused)',
        'MAX_CONNECTIONS_PER_KEY',
        '64',
      ),
    )
    .addOption(
      envOption(
        '--max-connections-per-source <n>',
        'authenticated connections serving no name allowed at once per source address ' +
          '(IPv6 per /64)',
        'MAX_CONNECTIONS_PER_SOURCE',
        '256',
      ),
    )
    .addOption(
      envOption(
        '--per-source-penalties <spec>',
        'refuse addresses whose unauthenticated connections misbehave, or "no"; items override ' +
          'the default authfail:5s noauth:1s grace-exceeded:10s max-per-source:5s min:15s max:600s ' +
          'max-sources:65536 overflow:permissive (OpenSSH PerSourcePenalties)',
        'PER_SOURCE_PENALTIES',
      ),
    )
    .addOption(
      envOption(
        '--max-channels <n>',
        'forwarded channels open at once per connection',
        'MAX_CHANNELS',
        '1024',
      ),
    )
    .addOption(
      envOption(
        '--drain-grace <duration>',
        'on SIGTERM, how long to wait for agents to move',
        'DRAIN_GRACE',
        '10s',
      ),
    )
    .addOption(
      envOption(
        '--ciphers <list>',
        `SSH ciphers offered, in order [default: ${DEFAULT_CIPHERS.join(', ')}]`,
        'CIPHERS',
      ),
    )
    .addOption(
      envOption(
        '--registry <url>',
        'where names are recorded: memory, redis://[user:pass@]host:port[/db], rediss://… ' +
          '(TLS) or redis-sentinel://host:port,…/MASTER[/db] (see the README)',
        'REGISTRY',
        'memory',
      ),
    )
    .addOption(
      envOption(
        '--registry-ttl <duration>',
        "how long the registry keeps a name or relay record after the relay's last heartbeat",
        'REGISTRY_TTL',
        '15s',
      ),
    )
    .addOption(
      envOption(
        '--peers <file>',
        'the relays of this cluster: their host public keys, authorized_keys format, the same ' +
          'file on every relay; names other relays hold become reachable through this one',
        'PEERS',
      ),
    )
    .addOption(
      envOption(
        '--heartbeat-interval <duration>',
        'how often the relay refreshes the registry; under half of --registry-ttl',
        'HEARTBEAT_INTERVAL',
        '5s',
      ),
    )
    .addOption(
      envOption(
        '--advertise <host:port>',
        'address other relays dial to reach this one, published in the registry ' +
          '[default: the --listen address]',
        'ADVERTISE',
      ),
    )
    .addOption(metricsListenOption())
    .addOption(authWebhookOption())
    .addOption(authWebhookTimeoutOption())
    .addOption(
      envOption(
        '--capacity <n>',
        'devices this relay is willing to hold, published in the registry for placement; ' +
          '0 declares no limit. A hint only: a relay at capacity still accepts registrations',
        'CAPACITY',
        '0',
      ),
    )
    .addOption(logLevelOption())
    .addOption(
      envOption(
        '--log-format <format>',
        'json or text (one line per event) for the log and a stdout audit trail [default: text on a terminal, else json]',
        'LOG_FORMAT',
      ).choices(LOG_FORMATS),
    );
}

/** `burrow relay`'s flags, with --auth-webhook… and --metrics-listen. */
export type RelayCliFlags = RelayFlags & WebhookFlags & { metricsListen?: string };

/** A relay started from its flags, with what it was started with (closed by stopOnSignals). */
export interface RunningRelay {
  readonly relay: Relay;
  /** The registry itself, not the relay's timed view of it (--metrics-listen). */
  readonly registry: Registry;
  readonly config: RelayConfig;
  readonly log: Logger;
  readonly policy: PolicyFile;
  readonly auditOut: AuditOutput;
  /**
   * Logs `relay listening on …` (ready) once stopOnSignals has installed the handlers, so a
   * SIGTERM sent on seeing it drains the relay instead of killing it with audit writes pending.
   */
  readonly announce: () => void;
}

/**
 * Checks the flags, then opens the audit trail, the policy file (created when the default one is
 * missing), the host key and the registry, and starts the relay: resolves once it listens
 * (`announce()` then logs where, with which host key). Throws a BurrowError with a one-line message.
 */
export async function openRelay(flags: RelayCliFlags): Promise<RunningRelay> {
  // Validate everything before touching the filesystem or the network.
  const settings = parseRelayFlags(flags);
  const metricsListen = parseMetricsListen(flags.metricsListen);
  const webhook = parseWebhookFlags(flags);
  parseRegistryUrl(flags.registry);
  const log = createLogger(flags.logLevel as LogLevel, flags.logFormat);
  const dataDir = defaultDataDir();
  const hostKeyPath = flags.hostKey ?? join(dataDir, 'relay_host_ed25519_key');
  const keysPath = flags.authorizedKeys ?? join(dataDir, 'authorized_keys');
  const auditOut = openAudit(flags.auditLog, flags.logFormat);
  const { audit } = auditOut;
  if (flags.authorizedKeys === undefined && !existsSync(keysPath)) {
    writeNewSecret(keysPath, AUTHORIZED_KEYS_TEMPLATE, '--authorized-keys');
    log.info({ file: keysPath }, 'created an empty policy file; add keys to it');
  } else if (!existsSync(keysPath)) {
    throw configError(`--authorized-keys: ${keysPath} does not exist`);
  }
  const { key, created } = loadOrCreateHostKey(hostKeyPath);
  const config: RelayConfig = { ...settings, hostKey: key, version: VERSION };
  const peers = flags.peers === undefined ? undefined : loadPeers(flags.peers, log);
  const policy = new PolicyFile(keysPath, log, audit);
  policy.watch();
  // prom-client is loaded only when metrics are asked for.
  const m = metricsListen ? await import('../metrics/index.js') : undefined;
  const register = m?.createMetricsRegistry();
  const metrics = m && register ? m.createRelayMetrics(register) : undefined;
  const rawRegistry = await createRegistry(flags.registry, {
    onState: (state, reason) =>
      state === 'lost'
        ? log.warn({ reason }, 'registry unreachable: local routes keep working')
        : log.info('registry reachable again'),
  }).catch((err: unknown) => {
    policy.close();
    throw err;
  });
  const registry = metrics ? metrics.timeRegistry(rawRegistry) : rawRegistry;
  const authHook = createWebhook(webhook, log, audit);
  const relay = await startRelay(config, {
    policy: policy.current,
    policyChanges: policy.onChange,
    ...(authHook ? { authHook } : {}),
    registry,
    ...(peers ? { peers } : {}),
    audit,
    log,
    ...(metrics ? { observer: metrics.observer } : {}),
  }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRINUSE') {
      throw addressInUse(`cannot listen on ${flags.listen}`, settings.port, err);
    }
    throw configError(
      `--listen: cannot listen on ${flags.listen}: ${err.code ?? err.message}`,
      err,
    );
  });
  metrics?.watch(relay);
  if (metricsListen && register) await listenForMetrics(metricsListen, register, log);
  const { host, port } = relay.address();
  audit.record({
    event: 'relay.started',
    relay: config.relayId,
    listen: `${host}:${port}`,
    host_key: key.fingerprint,
  });
  const announce = () =>
    log.info(
      {
        listen: `${host}:${port}`,
        hostKey: key.fingerprint,
        hostKeyFile: hostKeyPath,
        created,
        policy: keysPath,
        aesGcm: aesGcmForLog(log),
      },
      `relay listening on ${host}:${port}, host key ${key.fingerprint}`,
    );
  return { relay, registry: rawRegistry, config, log, policy, auditOut, announce };
}

/**
 * SIGTERM and SIGINT drain the relay, SIGHUP reloads its policy. Shutdown order: the relay
 * drains (a second signal closes it at once), then `also` closes what runs beside it, then the
 * registry, then the audit trail; the process exits 0.
 */
export function stopOnSignals(
  running: RunningRelay,
  also: () => Promise<void> = async () => {},
): void {
  const { relay, registry, log, policy, auditOut } = running;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: closing now');
      void relay
        .close()
        .then(also)
        .then(() => registry.close())
        .then(auditOut.close)
        .then(() => process.exit(0));
      return;
    }
    stopping = true;
    log.info({ signal }, 'draining: agents are asked to move, then the relay closes');
    policy.close();
    void relay
      .drain()
      .then(also)
      .then(() => registry.close())
      .then(auditOut.close)
      .then(() => {
        log.info('relay stopped');
        process.exit(0);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    log.info('SIGHUP: reloading policy');
    policy.reload();
  });
}
