/**
 * `burrow serve`: the one-machine setup in one process. A relay (every flag of `burrow relay`)
 * and the coordinator's HTTP API and status page (`--http`) share one registry, by default the
 * in-memory one, so what the relay holds is what the API shows. Start order: the relay, then the
 * HTTP listener; if the second cannot listen, the first is closed before the error line.
 * SIGTERM/SIGINT drain the relay as `burrow relay` does, then close the HTTP listener, the
 * registry and the audit trail (stopOnSignals in relay-command.ts).
 */
import type { Command } from 'commander';
import { startCoordinator } from '../coordinator/index.js';
import { BurrowError } from '../core/errors.js';
import { envOption } from './env-option.js';
import { isLoopback } from './metrics-flag.js';
import { parseHostPort } from './parse.js';
import { addressInUse } from './port-holder.js';
import {
  addRelayOptions,
  openRelay,
  type RelayCliFlags,
  type RunningRelay,
  stopOnSignals,
} from './relay-command.js';
import { readTokenFile } from './token-file.js';
import { VERSION } from './version.js';

type ServeFlags = RelayCliFlags & {
  http: string;
  apiTokenFile?: string;
  publicPlacement?: boolean;
};

export function registerServeCommand(program: Command): void {
  const serve = program
    .command('serve')
    .summary('run a relay and the coordinator (API, status page) in one process')
    .description(
      'Runs a relay (SSH on --listen) and the coordinator (HTTP on --http: the status page at /, ' +
        'the JSON API under /v1) in one process, sharing one registry: the in-memory one unless ' +
        '--registry says otherwise. Devices register with `ssh -N -R NAME:22:localhost:22` or ' +
        '`burrow agent`; `burrow ls` lists what they hold. Prints the SSH address, the host key ' +
        'fingerprint and the page URL. SIGTERM drains the relay, then stops. Takes every flag ' +
        'of `burrow relay`; every flag can also be set as BURROW_<FLAG>.',
    )
    .addOption(
      envOption('--http <host:port>', 'status page and API address', 'HTTP', '127.0.0.1:8080'),
    )
    .addOption(
      envOption(
        '--api-token-file <file>',
        'API reads need "Authorization: Bearer <token>" with the token in this file',
        'API_TOKEN_FILE',
      ),
    )
    .addOption(
      envOption(
        '--public-placement',
        'leave /v1/placement open when a token is required',
        'PUBLIC_PLACEMENT',
      ),
    );
  addRelayOptions(serve).action(async (flags: ServeFlags) => {
    await runServe(flags);
  });
}

async function runServe(flags: ServeFlags): Promise<void> {
  // The serve flags are checked before openRelay touches the filesystem or the network.
  const http = parseHostPort('--http', flags.http, '127.0.0.1');
  const token =
    flags.apiTokenFile === undefined
      ? undefined
      : readTokenFile('--api-token-file', flags.apiTokenFile);
  const running = await openRelay(flags);
  const { relay, registry, config, log } = running;
  const coordinator = await startCoordinator(
    {
      host: http.host,
      port: http.port,
      token,
      publicPlacement: flags.publicPlacement === true,
      ttlMs: config.registryTtlMs,
      version: VERSION,
    },
    { registry, log },
  ).catch(async (err: NodeJS.ErrnoException) => {
    await closeAll(running);
    throw httpListenError(flags.http, http.port, err);
  });
  const ssh = relay.address();
  const { host, port } = coordinator.address();
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (token === undefined && !isLoopback(http.host)) {
    log.warn(
      { http: where },
      `--http ${where} is beyond loopback with no --api-token-file: anyone who can reach it reads the names`,
    );
  }
  // The handlers first: a signal sent on seeing the `serving:` line drains, never kills.
  stopOnSignals(running, () => coordinator.close());
  running.announce();
  log.info(
    {
      ssh: `${ssh.host}:${ssh.port}`,
      hostKey: config.hostKey.fingerprint,
      page: `http://${where}/`,
    },
    `serving: ssh ${ssh.host}:${ssh.port} (host key ${config.hostKey.fingerprint}), ` +
      `status page http://${where}/`,
  );
}

/** Everything openRelay opened, closed again (the relay has served nothing yet). */
async function closeAll(running: RunningRelay): Promise<void> {
  running.policy.close();
  await running.relay.close();
  await running.registry.close();
  await running.auditOut.close();
}

function httpListenError(flag: string, port: number, err: NodeJS.ErrnoException): BurrowError {
  if (err.code === 'EADDRINUSE') return addressInUse(`--http: cannot listen on ${flag}`, port, err);
  return new BurrowError(
    'CONFIG_INVALID',
    `--http: cannot listen on ${flag}: ${err.code ?? err.message}`,
    { cause: err },
  );
}
