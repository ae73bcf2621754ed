import { isIP } from 'node:net';
import type { Option } from 'commander';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { BurrowError } from '../core/errors.js';
import { type MetricsServer, startMetricsServer } from '../metrics/http.js';
import { envOption } from './env-option.js';
import { type HostPort, parseHostPort } from './parse.js';

/** `--metrics-listen`, as `burrow relay` and `burrow agent` take it. */
export function metricsListenOption(): Option {
  return envOption(
    '--metrics-listen <host:port>',
    'serve Prometheus metrics at http://HOST:PORT/metrics (off by default; a bare :PORT is 127.0.0.1)',
    'METRICS_LISTEN',
  );
}

/** The `--metrics-listen` address, checked before anything starts; undefined when not given. */
export function parseMetricsListen(value: string | undefined): HostPort | undefined {
  return value === undefined ? undefined : parseHostPort('--metrics-listen', value, '127.0.0.1');
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/**
 * Starts the metrics listener, logs its URL, and warns when it is reachable beyond loopback (it
 * has no authentication: anyone who reaches it reads the counts). A listen failure is a one-line
 * error naming the flag.
 */
export async function listenForMetrics(
  listen: HostPort,
  register: Registry,
  log: Logger,
): Promise<MetricsServer> {
  const server = await startMetricsServer(listen, register, log).catch(
    (err: NodeJS.ErrnoException) => {
      const shown = `${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`;
      throw new BurrowError(
        err.code === 'EADDRINUSE' ? 'REFUSED' : 'CONFIG_INVALID',
        `--metrics-listen: cannot listen on ${shown}: ${err.code ?? err.message}`,
        { cause: err },
      );
    },
  );
  const { host, port } = server.address();
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (!isLoopback(listen.host)) {
    log.warn(
      { metrics: where },
      `serving metrics on ${where} beyond loopback: anyone who can reach it reads them`,
    );
  }
  log.info({ metrics: where }, `metrics on http://${where}/metrics`);
  return server;
}
