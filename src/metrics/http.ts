import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { listenHttp } from '../streams/http-listener.js';

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
  const listener = await listenHttp(server, listen);
  server.on('error', (err) => log.error({ err: err.message }, 'metrics listener error'));
  return listener;
}
