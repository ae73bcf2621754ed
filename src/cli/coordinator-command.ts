/**
 * `burrow coordinator`: the REST API over the registry (src/coordinator). Reads flags and
 * BURROW_* env, the token file, connects the registry, prints one start line, and on SIGTERM or
 * SIGINT closes the listener, then the registry.
 */

import type { Command } from 'commander';
import { startCoordinator } from '../coordinator/index.js';
import { BurrowError, configError } from '../core/errors.js';
import { createRegistry, maskRegistryUrl, parseRegistryUrl } from '../registry/index.js';
import { envOption, logLevelOption } from './env-option.js';
import { createLogger, type LogLevel } from './log.js';
import { LOG_FORMATS, type LogFormat } from './log-format.js';
import { isLoopback } from './metrics-flag.js';
import { parseDuration, parseHostPort } from './parse.js';
import { addressInUse } from './port-holder.js';
import { readTokenFile } from './token-file.js';
import { VERSION } from './version.js';

interface CoordinatorFlags {
  registry: string;
  listen: string;
  apiTokenFile?: string;
  publicPlacement?: boolean;
  registryTtl: string;
  logLevel: string;
  logFormat?: LogFormat;
}

export function registerCoordinatorCommand(program: Command): void {
  program
    .command('coordinator')
    .summary('serve placement and cluster state over HTTP, from the registry relays share')
    .description(
      'Runs the coordinator: a JSON API over the registry the relays share (--registry). ' +
        'Devices ask GET /v1/placement?name=NAME which relays to use, best first; operators read ' +
        '/v1/names, /v1/names/NAME, /v1/relays and /v1/status; /healthz and /readyz are for ' +
        'probes; / is a status page for a browser. It keeps no state of its own: run as many ' +
        'as you like. Every flag can also be set as BURROW_<FLAG>.',
    )
    .addOption(
      envOption(
        '--registry <url>',
        'the registry the relays use: redis://…, rediss://…',
        'REGISTRY',
      ).makeOptionMandatory(),
    )
    .addOption(
      envOption('--listen <host:port>', 'address to listen on', 'LISTEN', '127.0.0.1:8080'),
    )
    .addOption(
      envOption(
        '--api-token-file <file>',
        'reads, /metrics and the status page need "Authorization: Bearer <token>" (token in FILE)',
        'API_TOKEN_FILE',
      ),
    )
    .addOption(
      envOption(
        '--public-placement',
        'leave /v1/placement open when a token is required (devices ask before they hold one)',
        'PUBLIC_PLACEMENT',
      ),
    )
    .addOption(
      envOption(
        '--registry-ttl <duration>',
        "the relays' --registry-ttl (heartbeat age and lost relays are computed from it)",
        'REGISTRY_TTL',
        '15s',
      ),
    )
    .addOption(logLevelOption())
    .addOption(
      envOption(
        '--log-format <format>',
        'text or json [default: text on a terminal, json otherwise]',
        'LOG_FORMAT',
      ).choices(LOG_FORMATS),
    )
    .action(async (flags: CoordinatorFlags) => {
      await runCoordinator(flags);
    });
}

async function runCoordinator(flags: CoordinatorFlags): Promise<void> {
  const listen = parseHostPort('--listen', flags.listen, '127.0.0.1');
  const ttlMs = parseDuration('--registry-ttl', flags.registryTtl);
  if (ttlMs < 1000) throw configError('--registry-ttl: at least 1s');
  parseRegistryUrl(flags.registry);
  const token =
    flags.apiTokenFile === undefined
      ? undefined
      : readTokenFile('--api-token-file', flags.apiTokenFile);
  const log = createLogger(flags.logLevel as LogLevel, flags.logFormat);

  const registry = await createRegistry(flags.registry, {
    onState: (state, reason) =>
      state === 'lost'
        ? log.warn({ reason }, 'registry unreachable: /readyz answers 503')
        : log.info('registry reachable again'),
  });
  const coordinator = await startCoordinator(
    {
      host: listen.host,
      port: listen.port,
      token,
      publicPlacement: flags.publicPlacement === true,
      ttlMs,
      version: VERSION,
    },
    { registry, log },
  ).catch(async (err: NodeJS.ErrnoException) => {
    await registry.close();
    if (err.code === 'EADDRINUSE') {
      throw addressInUse(`--listen: cannot listen on ${flags.listen}`, listen.port, err);
    }
    throw new BurrowError(
      'CONFIG_INVALID',
      `--listen: cannot listen on ${flags.listen}: ${err.code ?? err.message}`,
      { cause: err },
    );
  });
  const { host, port } = coordinator.address();
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (token === undefined && !isLoopback(listen.host)) {
    log.warn(
      { listen: where },
      `listening on ${where} beyond loopback with no --api-token-file: anyone who can reach it reads the cluster's names`,
    );
  }
  log.info(
    {
      listen: where,
      registry: maskRegistryUrl(flags.registry),
      auth: token === undefined ? 'none' : 'bearer',
      publicPlacement: flags.publicPlacement === true,
    },
    `coordinator listening on http://${where}`,
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'coordinator stopping');
    void coordinator
      .close()
      .then(() => registry.close())
      .then(() => {
        log.info('coordinator stopped');
        process.exit(0);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
