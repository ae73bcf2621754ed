import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LISTEN_BACKLOG } from '../core/constants.js';

/** A listening HTTP server as its owner exposes it. */
export interface HttpListener {
  address(): { host: string; port: number };
  close(): Promise<void>;
}

/**
 * Listens `server` on `at` with burrow's HTTP timeouts (10 s for a request's headers, 15 s for
 * the whole request) and a backlog of `LISTEN_BACKLOG`.
 *
 * Lifecycle: resolves once listening; if listening fails, runs `release` (what the owner set up
 * around the server) and rejects with the error. `close()` runs `release`, stops accepting, ends
 * idle keep-alive connections and resolves once requests in flight are done; it is idempotent.
 */
export async function listenHttp(
  server: Server,
  at: { host: string; port: number },
  release: () => void = () => {},
): Promise<HttpListener> {
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  await new Promise<void>((resolve, reject) => {
    const fail = (err: Error) => {
      release();
      reject(err);
    };
    server.once('error', fail);
    server.listen(at.port, at.host, LISTEN_BACKLOG, () => {
      server.off('error', fail);
      resolve();
    });
  });
  let closing: Promise<void> | undefined;
  return {
    address() {
      const a = server.address() as AddressInfo;
      return { host: a.address, port: a.port };
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        release();
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
