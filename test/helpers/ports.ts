/**
 * Free TCP ports, only for programs that cannot listen on port 0 and report the port (sshd).
 * Everything burrow starts listens on port 0 instead. A port found here can be taken by someone
 * else before it is used; callers that bind it must retry on "address in use" (startSshd does).
 */
import { createServer } from 'node:net';

/** Resolves with a port that was free on `host` (default 127.0.0.1) a moment ago. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

/** `T` with its readonly fields writable: a server's record while its port is being chosen. */
export type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** How many ports `onFreePort` tries before it gives up. */
const PORT_TRIES = 5;

/**
 * Runs `start(port)` on a port free a moment ago, for a server that must keep its port across
 * restarts (so cannot listen on port 0): when another process took the port in between, which
 * `start` reports by throwing an error whose message says "address in use" (or "address already
 * in use"), it runs again on another free port, up to 5 tries. Resolves with the port it started
 * on and what `start` resolved with; rethrows any other error.
 */
export async function onFreePort<T>(
  start: (port: number) => Promise<T>,
): Promise<{ port: number; value: T }> {
  for (let tries = 1; ; tries++) {
    const port = await freePort();
    try {
      return { port, value: await start(port) };
    } catch (err) {
      if (tries >= PORT_TRIES || !/address (already )?in use/i.test((err as Error).message)) {
        throw err;
      }
    }
  }
}
