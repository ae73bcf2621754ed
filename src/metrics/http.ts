import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

/**
 * A tiny HTTP listener for `--metrics-listen`: `GET /metrics` answers the registry in the
 * Prometheus text format; every other path or method gets 404/405, and nothing a client sends is
 * read beyond its request line and headers.
 *
 * Lifecycle: resolves once listening; `close()` stops accepting, ends idle connections and waits
 * for scrapes in flight; idempotent.
 */
export interface MetricsServer {
  address(): { host: string; port: number };
  close(): Promise<void>;
}

export async function startMetricsServer(
  listen: { host: string; port: number },
  register: Registry,
  log: Logger,
): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      res.end('method not allowed\n');
      return;
    }
    register.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': register.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        log.error({ err: (err as Error).message }, 'metrics scrape failed');
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('scrape failed\n');
      },
    );
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err: err.message }, 'metrics listener error'));
  let closing: Promise<void> | undefined;
  return {
    address() {
      const a = server.address() as AddressInfo;
      return { host: a.address, port: a.port };
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
