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
