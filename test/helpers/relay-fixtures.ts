/**
 * Small fixtures the relay tests share: keys, policy lines, a greeting echo server, and an ssh2
 * client logged in to a test relay (for what OpenSSH will not do, or not fast enough).
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import ssh2 from '../../src/ssh/ssh2.js';
import { authorizedKeyLine, generateKey, type KeyPair } from './keys.js';
import type { TestRelay } from './relay.js';
import type { Scope } from './scope.js';
import { tmpDir } from './tmp.js';

/** Keys `names` in one fresh temp dir, in order. */
export async function keys(s: Scope, ...names: string[]): Promise<KeyPair[]> {
  const dir = await tmpDir(s);
  return Promise.all(names.map((name) => generateKey(dir, name)));
}

/** An authorized_keys line: `options key`. */
export const line = (key: KeyPair, ...options: string[]): string =>
  authorizedKeyLine({ key, options });

/**
 * A TCP server that greets every connection with `tag\n` and then echoes what it gets, closing
 * after the peer's EOF. `ssh -W route relay` with empty stdin prints exactly `tag\n`.
 */
export async function tagServer(s: Scope, tag: string): Promise<number> {
  const server: Server = createServer({ allowHalfOpen: true }, (sock) => {
    sock.on('error', () => {});
    sock.write(`${tag}\n`);
    sock.pipe(sock);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  s.defer(() => new Promise<void>((r) => server.close(() => r())), `tag server ${tag}`);
  const addr = server.address();
  return typeof addr === 'object' && addr ? addr.port : 0;
}

/** An ssh2 client logged in to the relay, for opening channels faster than OpenSSH would. */
export async function ssh2Client(
  scope: Scope,
  relay: TestRelay,
  key: KeyPair,
): Promise<ssh2.Client> {
  const client = new ssh2.Client();
  scope.defer(() => void client.destroy(), 'ssh2 client');
  const privateKey = await readFile(key.path, 'utf8');
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
    client.connect({ host: '127.0.0.1', port: relay.port, username: 'x', privateKey });
  });
  client.on('error', () => {});
  return client;
}
