import type { Duplex, Writable } from 'node:stream';
import type ssh2Types from 'ssh2';
import { SSH_IDENT_SOFTWARE } from '../core/constants.js';
import { ignoreExpectedErrors } from '../streams/expected-errors.js';
import { type AuthAttempt, authAttemptOf } from './connection.js';
import { toSsh2Key } from './keys.js';
import { ackHandshakePromptly } from './quick-ack.js';
import { DEFAULT_CIPHERS } from './server.js';
import ssh2 from './ssh2.js';
import { flowViolationOf } from './violations.js';

/**
 * The SSH side of an interactive server (otssh): public-key authentication and session channels
 * with a pty, environment, a shell or a command, window changes and signals. Like SshServer it
 * owns no listener: a TCP socket or a relay channel is handed in with `accept()`. Nothing but
 * sessions is served: no port forwarding, X11, agent forwarding or subsystems.
 */

export interface PtyRequest {
  readonly cols: number;
  readonly rows: number;
  readonly term: string;
}

export interface SessionStart {
  readonly pty?: PtyRequest;
  /** Environment the client asked for and the handler allowed. */
  readonly env: Readonly<Record<string, string>>;
  /** `exec` command; undefined for a shell. */
  readonly command?: string;
}

/** The session channel once a shell or command is accepted. */
export interface SessionStream extends Duplex {
  readonly stderr: Writable;
  exit(code: number): void;
  exit(signal: string, coreDumped: boolean, message: string): void;
  close(): void;
}

export interface SessionControl {
  onResize(cb: (cols: number, rows: number) => void): void;
  onSignal(cb: (name: string) => void): void;
}

export interface InteractiveHandler {
  authenticate(attempt: AuthAttempt): boolean;
  ready(): void;
  /** A session channel is being opened; false refuses it (e.g. not the first). */
  openSession(): boolean;
  allowPty(): boolean;
  allowEnv(name: string, value: string): boolean;
  /** Shell or exec on an open session; called at most once per session. */
  start(req: SessionStart, accept: () => SessionStream, control: SessionControl): void;
  /** Called once when the connection is gone, whatever the cause. */
  closed(reason: string): void;
}

export class InteractiveServer {
  readonly #server: ssh2Types.Server;
  readonly #pending = new WeakMap<object, InteractiveHandler>();

  constructor(hostKey: string) {
    this.#server = new ssh2.Server({
      hostKeys: [{ key: toSsh2Key(hostKey) }],
      ident: SSH_IDENT_SOFTWARE,
      algorithms: { cipher: [...DEFAULT_CIPHERS] as ssh2Types.CipherAlgorithm[] },
    });
    this.#server.on('connection', (client: ssh2Types.Connection) => {
      const socket = client.socket;
      const handler = this.#pending.get(socket);
      this.#pending.delete(socket);
      if (!handler) {
        socket.destroy();
        return;
      }
      attach(client, socket, handler);
    });
    ignoreExpectedErrors(this.#server, 'the SSH session server (never listened on)');
  }

  /** Starts SSH on a connected stream (a TCP socket, or a channel forwarded by a relay). */
  accept(socket: Duplex, handler: InteractiveHandler): void {
    this.#pending.set(socket, handler);
    ignoreExpectedErrors(socket, 'an SSH session connection'); // ends through 'close'
    this.#server.injectSocket(socket as never);
    ackHandshakePromptly(socket); // after ssh2's own 'data' listener (see quick-ack.ts)
  }
}

function attach(client: ssh2Types.Connection, socket: Duplex, handler: InteractiveHandler): void {
  let done = false;
  let reason: string | undefined;
  const finish = () => {
    if (done) return;
    done = true;
    handler.closed(reason ?? 'peer-closed');
  };
  client.on('error', (err: Error) => {
    reason ??= flowViolationOf(err) ?? `error: ${err.message}`;
    socket.destroy();
  });
  client.on('close', finish);
  socket.once('close', finish);
  client.on('authentication', (ctx) => {
    const attempt = authAttemptOf(ctx);
    let ok = false;
    try {
      ok = handler.authenticate(attempt);
    } catch {
      ok = false;
    }
    if (ok && attempt.method === 'publickey') ctx.accept();
    else ctx.reject(['publickey']);
  });
  client.on('ready', () => handler.ready());
  client.on('request', (_accept, reject) => reject?.());
  client.on('tcpip', (_accept, reject) => reject());
  client.on('openssh.streamlocal', (_accept, reject) => reject());
  client.on('session', (accept, reject) => {
    if (!handler.openSession()) return reject();
    serveSession(accept(), handler);
  });
}

function serveSession(session: ssh2Types.Session, handler: InteractiveHandler): void {
  let pty: PtyRequest | undefined;
  const env: Record<string, string> = {};
  let started = false;
  const resizes: ((cols: number, rows: number) => void)[] = [];
  const signals: ((name: string) => void)[] = [];
  const control: SessionControl = {
    onResize: (cb) => resizes.push(cb),
    onSignal: (cb) => signals.push(cb),
  };
  session.on('pty', (accept, reject, info) => {
    if (started || !handler.allowPty()) return reject?.();
    pty = { cols: info.cols, rows: info.rows, term: info.term };
    accept?.();
  });
  session.on('env', (accept, reject, info) => {
    if (!started && handler.allowEnv(info.key, info.val)) {
      env[info.key] = info.val;
      accept?.();
    } else reject?.();
  });
  session.on('window-change', (accept, _reject, info) => {
    for (const cb of resizes) cb(info.cols, info.rows);
    accept?.();
  });
  session.on('signal', (accept, _reject, info) => {
    for (const cb of signals) cb(info.name);
    accept?.();
  });
  const begin = (accept: () => SessionStream, command?: string) => {
    started = true;
    handler.start(
      { ...(pty ? { pty } : {}), env, ...(command === undefined ? {} : { command }) },
      accept,
      control,
    );
  };
  session.on('shell', (accept, reject) => {
    if (started) return reject?.();
    begin(accept as unknown as () => SessionStream);
  });
  session.on('exec', (accept, reject, info) => {
    if (started) return reject?.();
    begin(accept as unknown as () => SessionStream, info.command);
  });
  for (const refused of ['subsystem', 'sftp', 'x11', 'auth-agent'] as const) {
    session.on(refused as 'subsystem', (_accept, reject) => reject?.());
  }
}
