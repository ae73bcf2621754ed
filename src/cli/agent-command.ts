import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { askPlacement, placementTimeoutMs, startAgent } from '../agent/index.js';
import { ENV_PREFIX } from '../core/constants.js';
import { configError } from '../core/errors.js';
import { fingerprint } from '../core/policy/keys.js';
import { type AgentFlags, DEFAULT_RELAY_PORT, settingsFrom } from './agent-settings.js';
import {
  formatStatus,
  processAlive,
  readStatus,
  statusExitCode,
  writeStatus,
} from './agent-status.js';
import { applyConfigFile, parseConfigFile } from './config-file.js';
import { defaultDataDir } from './data-dir.js';
import { envOption, logLevelOption } from './env-option.js';
import { createLogger, type LogLevel } from './log.js';
import { LOG_FORMATS } from './log-format.js';
import { listenForMetrics, metricsListenOption, parseMetricsListen } from './metrics-flag.js';
import { selfArgv } from './self.js';
import { renderAgentUnit, unitFileName } from './systemd-unit.js';

/** Repeatable flags collect every use; one use (or BURROW_<FLAG>) may list several, comma-separated. */
const collect = (value: string, previous: string[] | undefined) => [
  ...(previous ?? []),
  ...value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== ''),
];

/** The flags `agent` and `agent systemd-unit` share. */
function addAgentOptions(cmd: Command): Command {
  return cmd
    .addOption(envOption('--name <name>', 'the name this device registers (required)', 'NAME'))
    .addOption(
      envOption(
        '--relay <host:port,…>',
        `relays to use, tried in rotation (port defaults to ${DEFAULT_RELAY_PORT}) (required unless --coordinator)`,
        'RELAY',
      ),
    )
    .addOption(
      envOption(
        '--coordinator <url>',
        'ask this coordinator which relay to use, at start and after losing one; --relay is the fallback',
        'COORDINATOR',
      ),
    )
    .addOption(
      envOption(
        '--coordinator-token-file <file>',
        "bearer token for the coordinator's placement, if it wants one",
        'COORDINATOR_TOKEN_FILE',
      ),
    )
    .addOption(envOption('--identity <file>', "the device's private key (required)", 'IDENTITY'))
    .addOption(
      new Option(
        '--forward <port=host:port>',
        'relay port PORT of this name leads to local HOST:PORT; repeatable [default: 22=localhost:22]',
      )
        .env(`${ENV_PREFIX}FORWARD`)
        .argParser(collect),
    )
    .addOption(
      new Option(
        '--relay-host-key <key>',
        'pin the relays\' host key ("ssh-ed25519 AAAA…" or "SHA256:…"); repeatable',
      )
        .env(`${ENV_PREFIX}RELAY_HOST_KEY`)
        .argParser(collect),
    )
    .addOption(
      envOption(
        '--known-hosts <file>',
        "known_hosts file holding the relays' host keys [default: <data-dir>/known_hosts]",
        'KNOWN_HOSTS',
      ),
    )
    .addOption(
      new Option(
        '--accept-new',
        "trust a --relay entry's host key on first use and record it in the known_hosts file (never a relay that only the coordinator names)",
      ).env(`${ENV_PREFIX}ACCEPT_NEW`),
    )
    .addOption(
      envOption('--user <name>', 'SSH user name sent to the relay [default: the name]', 'USER'),
    )
    .addOption(
      envOption(
        '--keepalive-interval <duration>',
        'probe the relay this often',
        'KEEPALIVE_INTERVAL',
        '5s',
      ),
    )
    .addOption(
      envOption(
        '--keepalive-count <n>',
        'declare the relay dead after this many intervals without a byte from it',
        'KEEPALIVE_COUNT',
        '2',
      ),
    )
    .addOption(
      envOption(
        '--connect-timeout <duration>',
        'give up on one connection attempt after this long',
        'CONNECT_TIMEOUT',
        '10s',
      ),
    )
    .addOption(
      envOption(
        '--status-file <file>',
        'where the agent keeps its state for `burrow agent status` [default: <data-dir>/agent-<name>.json]',
        'STATUS_FILE',
      ),
    )
    .addOption(
      envOption('--config <file>', 'read settings from FILE ("flag value" per line)', 'CONFIG'),
    )
    .addOption(logLevelOption())
    .addOption(
      envOption(
        '--log-format <format>',
        'json or text (one line per event) [default: text on a terminal, else json]',
        'LOG_FORMAT',
      ).choices(LOG_FORMATS),
    );
}

export function registerAgentCommand(program: Command): void {
  const agent = addAgentOptions(
    program
      .command('agent')
      .summary('keep this device registered on a relay, through relay restarts and network loss')
      .description(
        'Connects out to a relay with the device key, registers NAME for each --forward and ' +
          'serves connections by dialing the local target. Reconnects at once when the relay ' +
          'goes away (rotating through --relay), moves to another relay before a draining one ' +
          'closes, and never gives up on errors that retrying can fix.\n\n' +
          'With --coordinator, it asks the coordinator (GET /v1/placement) which relays to try, ' +
          'at start and after losing its relay, and uses --relay when the coordinator cannot ' +
          'answer. A relay the coordinator names must already be known (--known-hosts or ' +
          '--relay-host-key): --accept-new applies only to --relay entries.\n\n' +
          'Exits 2 with one line when it cannot work without a change: host key mismatch or ' +
          'unknown, key refused, name not permitted.\n\n' +
          'Every flag can also be set as BURROW_<FLAG> (repeatable ones as a comma-separated ' +
          'list) or in a --config file of "flag value" lines; the command line wins, then the ' +
          'environment, then the file.',
      )
      .enablePositionalOptions(),
  )
    .addOption(metricsListenOption())
    .action(async (flags: AgentFlags, cmd: Command) => {
      loadConfigFile(cmd, flags);
      await runAgent(cmd.opts<AgentFlags & { metricsListen?: string }>());
    });

  agent
    .command('status')
    .summary('show the relay in use, since when, reconnects and the last error')
    .description(
      'Shows the relay in use and since when, reconnects and the last error, from the ' +
        "agent's status file.\n\nExit status: 0 registered, 1 running but not registered, " +
        '3 not running.',
    )
    .addOption(envOption('--name <name>', 'the agent to report on', 'NAME'))
    .addOption(envOption('--status-file <file>', 'read this status file instead', 'STATUS_FILE'))
    .option('--json', 'print the raw status record')
    .action((flags: { name?: string; statusFile?: string; json?: boolean }) => {
      showStatus(flags);
    });

  addAgentOptions(
    agent
      .command('systemd-unit')
      .summary('print a hardened systemd unit running the agent with these flags')
      .description(
        'Prints a hardened systemd unit that runs this agent with the given flags ' +
          '(Restart=always, RestartSec=1, StartLimitIntervalSec=0, RestartPreventExitStatus=2, ' +
          'DynamicUser, the key passed with LoadCredential, a sandbox).\n\nInstall: ' +
          'burrow agent systemd-unit … > /etc/systemd/system/burrow-agent-NAME.service',
      )
      .addOption(
        envOption(
          '--unit-user <user>',
          'run as this existing user instead of a DynamicUser',
          'UNIT_USER',
        ),
      )
      .addOption(metricsListenOption()),
  ).action((flags: UnitFlags, cmd: Command) => {
    loadConfigFile(cmd, flags);
    printUnit(cmd.opts<UnitFlags>());
  });
}

function loadConfigFile(cmd: Command, flags: AgentFlags): void {
  if (!flags.config) return;
  let text: string;
  try {
    text = readFileSync(flags.config, 'utf8');
  } catch (err) {
    throw configError(
      `--config: cannot read ${flags.config}: ${(err as NodeJS.ErrnoException).code}`,
    );
  }
  applyConfigFile(cmd, parseConfigFile(text, flags.config), flags.config);
}

async function runAgent(flags: AgentFlags & { metricsListen?: string }): Promise<void> {
  const s = settingsFrom(flags);
  const metricsListen = parseMetricsListen(flags.metricsListen);
  const log = createLogger(flags.logLevel as LogLevel, flags.logFormat).child({ name: s.name });
  // prom-client is loaded only when metrics are asked for: an agent without them stays small.
  let metrics: import('../metrics/index.js').AgentMetrics | undefined;
  if (metricsListen) {
    const { createAgentMetrics, createMetricsRegistry } = await import('../metrics/index.js');
    const register = createMetricsRegistry();
    metrics = createAgentMetrics(register);
    await listenForMetrics(metricsListen, register, log);
  }
  const startedAt = Date.now();
  const record = (
    state: ReturnType<typeof agent.status>,
    exit?: { code: number; message: string },
  ) => {
    try {
      writeStatus(s.statusFile, {
        version: 1,
        pid: process.pid,
        name: s.name,
        relays: s.config.relays.map((r) => r.id),
        forwards: s.config.forwards.map((f) => `${f.port}=${f.targetHost}:${f.targetPort}`),
        startedAt,
        updatedAt: Date.now(),
        state,
        ...(exit ? { exit } : {}),
      });
    } catch (err) {
      log.warn({ file: s.statusFile, err: (err as Error).message }, 'cannot write status file');
    }
  };
  log.info(
    {
      relays: s.config.relays.map((r) => r.id),
      forwards: s.config.forwards.map((f) => `${f.name}:${f.port}=${f.targetHost}:${f.targetPort}`),
      trust: s.trust.describe,
      ...(s.coordinator ? { coordinator: s.coordinator.url } : {}),
      statusFile: s.statusFile,
    },
    `agent ${s.name} starting`,
  );
  const questionMs = placementTimeoutMs(s.config.relays.length, s.config.connectTimeoutMs);
  const agent = startAgent(s.config, {
    log,
    verifyHostKey: (relay, blob) => {
      const d = s.trust.check(relay.host, relay.port, blob);
      if (d.ok && d.recorded) {
        const fp = fingerprint(blob);
        log.info(
          { relay: relay.id, fp, file: s.knownHosts },
          `trusted relay ${relay.id} on first use: recorded host key ${fp} in ${s.knownHosts}`,
        );
      }
      return d.ok ? { ok: true } : { ok: false, message: d.message };
    },
    ...(s.coordinator
      ? {
          place: (avoid?: string) =>
            askPlacement({ ...s.coordinator!, name: s.name, timeoutMs: questionMs }, avoid),
        }
      : {}),
    onState: (snap) => {
      record(snap);
      metrics?.observe(snap);
    },
    onExit: (code, message) => {
      record(agent.status(), { code, message });
      if (code !== 0) process.stderr.write(`burrow agent: ${message}\n`);
      else log.info('agent stopped');
      process.exit(code);
    },
  });
  const stop = (signal: string) => {
    log.info({ signal }, 'stopping');
    agent.close();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => log.info('SIGHUP ignored (settings are read at start)'));
}

function showStatus(flags: { name?: string; statusFile?: string; json?: boolean }): void {
  if (!flags.statusFile && !flags.name) {
    throw configError('agent status: give --name (or --status-file) of the agent to report on');
  }
  const path = resolve(flags.statusFile ?? join(defaultDataDir(), `agent-${flags.name}.json`));
  const read = readStatus(path);
  if (!read.ok) {
    process.stderr.write(`burrow: ${read.message}\n`);
    process.exit(3);
  }
  const alive = processAlive(read.record.pid);
  process.stdout.write(
    flags.json
      ? `${JSON.stringify({ ...read.record, running: alive && !read.record.exit })}\n`
      : formatStatus(read.record, alive, Date.now()),
  );
  process.exitCode = statusExitCode(read.record, alive);
}

type UnitFlags = AgentFlags & { unitUser?: string; metricsListen?: string };

function printUnit(flags: UnitFlags): void {
  const s = settingsFrom(flags);
  parseMetricsListen(flags.metricsListen);
  const argv = ['agent', '--name', s.name];
  if (s.config.relays.length > 0) argv.push('--relay', s.config.relays.map((r) => r.id).join(','));
  if (flags.coordinator) argv.push('--coordinator', s.coordinator!.url);
  if (flags.coordinatorTokenFile)
    argv.push('--coordinator-token-file', resolve(flags.coordinatorTokenFile));
  argv.push('--identity', s.identityPath);
  for (const f of s.config.forwards)
    argv.push('--forward', `${f.port}=${f.targetHost}:${f.targetPort}`);
  for (const k of flags.relayHostKey ?? []) argv.push('--relay-host-key', k);
  if (flags.knownHosts) argv.push('--known-hosts', s.knownHosts);
  if (flags.acceptNew) argv.push('--accept-new');
  if (flags.user) argv.push('--user', flags.user);
  argv.push(
    '--keepalive-interval',
    flags.keepaliveInterval,
    '--keepalive-count',
    flags.keepaliveCount,
  );
  argv.push('--connect-timeout', flags.connectTimeout, '--log-level', flags.logLevel);
  if (flags.statusFile) argv.push('--status-file', s.statusFile);
  if (flags.logFormat) argv.push('--log-format', flags.logFormat);
  if (flags.metricsListen) argv.push('--metrics-listen', flags.metricsListen);
  const command = [...selfArgv(), ...argv];
  const writable = flags.acceptNew && flags.knownHosts ? [s.knownHosts] : [];
  if (flags.statusFile) writable.push(s.statusFile);
  process.stdout.write(
    renderAgentUnit({
      name: s.name,
      command,
      identityFile: s.identityPath,
      writablePaths: writable,
      ...(flags.unitUser ? { user: flags.unitUser } : {}),
    }),
  );
  process.stderr.write(`# save as /etc/systemd/system/${unitFileName(s.name)}\n`);
}
