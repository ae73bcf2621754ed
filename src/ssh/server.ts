import type { Socket } from 'node:net';
import type ssh2Types from 'ssh2';
import { SSH_IDENT_SOFTWARE } from '../core/constants.js';
import { coalesceWrites } from '../streams/coalesce.js';
import { ignoreExpectedErrors } from '../streams/expected-errors.js';
import { SshConnection, type SshConnectionHandler } from './connection.js';
import { toSsh2Key } from './keys.js';
import { ackHandshakePromptly } from './quick-ack.js';
import ssh2 from './ssh2.js';

export interface SshServerConfig {
  /** Private host key text (OpenSSH format). */
  readonly hostKey: string;
  /** Keepalive probe interval once authenticated; the connection is dropped after countMax misses. */
  readonly keepaliveIntervalMs: number;
  readonly keepaliveCountMax: number;
  /** Cipher preference; omit for burrow's default (AES-GCM only). */
  readonly ciphers?: readonly string[];
}

/** Metadata the listener attaches to a socket before the SSH layer sees it. */
export interface SocketMeta {
  readonly remoteAddress: string;
  readonly remotePort: number;
}

export type ConnectionFactory<M extends SocketMeta> = (
  conn: SshConnection,
  meta: M,
) => SshConnectionHandler;

/**
 * AES-GCM only, by default. OpenSSH clients take the first cipher in *their* list that the server
 * offers, and their list puts chacha20-poly1305 and aes-ctr ahead of aes-gcm: offering either
 * means GCM is never chosen, and GCM costs the relay the least CPU per byte (`npm run bench --
 * relay --relay-ciphers LIST` measures each). Every OpenSSH since 6.2 speaks GCM; `--ciphers`
 * adds others for older clients.
 */
export const DEFAULT_CIPHERS: readonly string[] = [
  'aes128-gcm@openssh.com',
  'aes256-gcm@openssh.com',
];

/**
 * An SSH server that does not own a listener: sockets are handed in with `accept()`, so the
 * caller decides limits before any SSH byte is parsed and tests can drive a single connection.
 */
export class SshServer<M extends SocketMeta = SocketMeta> {
  readonly #server: ssh2Types.Server;
  readonly #pending = new WeakMap<object, { socket: Socket; meta: M }>();

  constructor(config: SshServerConfig, onConnection: ConnectionFactory<M>) {
    this.#server = new ssh2.Server({
      hostKeys: [{ key: toSsh2Key(config.hostKey) }],
      ident: SSH_IDENT_SOFTWARE,
      keepaliveInterval: config.keepaliveIntervalMs,
      keepaliveCountMax: config.keepaliveCountMax,
      algorithms: {
        cipher: [...(config.ciphers ?? DEFAULT_CIPHERS)] as ssh2Types.CipherAlgorithm[],
      },
    });
    this.#server.on('connection', (client: ssh2Types.Connection) => {
      // The socket ssh2 was given is the only link between the socket we accepted and the SSH
      // connection it became.
      const pending = this.#pending.get(client.socket);
      this.#pending.delete(client.socket);
      if (!pending) {
        client.socket.destroy();
        return;
      }
      const { socket, meta } = pending;
      const conn = new SshConnection(client, socket, meta);
      conn.attach(onConnection(conn, meta));
    });
    // The inner net.Server is never listened on; errors are per-connection.
    ignoreExpectedErrors(this.#server, 'the SSH server (never listened on)');
  }

  /** Starts the SSH protocol on an accepted socket. */
  accept(socket: Socket, meta: M): void {
    this.#pending.set(socket, { socket, meta });
    coalesceWrites(socket);
    this.#server.injectSocket(socket);
    ackHandshakePromptly(socket); // after ssh2's own 'data' listener (see quick-ack.ts)
  }
}
