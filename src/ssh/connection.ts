import type { Socket } from 'node:net';
import type { Duplex, Writable } from 'node:stream';
import type ssh2 from 'ssh2';
import type { CloseReason } from '../core/refusals.js';
import { verifySignature } from './keys.js';
import type { SocketMeta } from './server.js';
import { CHANNEL_OPEN_FAILURE } from './ssh2.js';
import { flowViolationOf } from './violations.js';

/** What a device asked to have forwarded to it, exactly as it asked. */
export type ForwardTarget =
  | { readonly kind: 'tcpip'; readonly bindAddr: string; readonly bindPort: number }
  | { readonly kind: 'streamlocal'; readonly socketPath: string };

export interface AuthAttempt {
  readonly method: string;
  readonly username: string;
  readonly keyAlgo?: string;
  readonly keyBlob?: Buffer;
  /** True when the client sent a signature and it verified; false for a "would you accept" query. */
  readonly signed: boolean;
}

export interface DirectRequest {
  readonly host: string;
  readonly port: number;
  readonly originAddr: string;
  readonly originPort: number;
}

/** A session channel running an accepted exec request. */
export interface ExecStream extends Duplex {
  readonly stderr: Writable;
  exit(code: number): void;
}

/**
 * Why a channel open was refused: an RFC 4254 reason code and a description, which OpenSSH
 * prints as `channel N: open failed: <code>: <text>`.
 */
export interface OpenRefusal {
  readonly code: 'administratively-prohibited' | 'connect-failed' | 'resource-shortage';
  readonly text: string;
}

/** Refuses a channel open; with no argument ssh2 picks the code and sends no text. */
export type RejectOpen = (refusal?: OpenRefusal) => void;

/** Requests burrow never serves; reported so the caller can audit them. */
export type RefusedKind =
  | 'shell'
  | 'pty'
  | 'subsystem'
  | 'x11'
  | 'agent-forwarding'
  | 'env'
  | 'direct-streamlocal'
  | 'session'
  | 'signal';

/**
 * Domain-level callbacks for one SSH connection. Every callback is invoked at most once per
 * request; a callback that throws is treated as a refusal.
 */
export interface SshConnectionHandler {
  authenticate(attempt: AuthAttempt): boolean | Promise<boolean>;
  ready(): void;
  forward(target: ForwardTarget): Promise<boolean>;
  cancelForward(target: ForwardTarget): void;
  direct(req: DirectRequest, accept: () => Duplex, reject: RejectOpen): void;
  exec(command: string, accept: () => ExecStream, reject: () => void): void;
  refused(kind: RefusedKind, detail?: string): void;
  /**
   * Called once when the connection is gone, whatever the cause. `window-violation` and
   * `packet-size-violation` mean the peer sent channel data beyond what it was allowed and was
   * disconnected for it.
   */
  closed(reason: string): void;
}

/** Concurrent session channels per connection (OpenSSH's MaxSessions default). */
const MAX_SESSIONS = 10;

/** Message shown (on stderr) to someone who asks the relay for a shell. */
const NO_SHELL_MESSAGE =
  'burrow: this relay serves no shell. Reach a device with: ssh -J <relay> user@<name>\r\n';

/**
 * One SSH connection, wrapping ssh2's server-side client object. Owns the socket: `destroy()`
 * always releases it, whatever state the peer is in (frozen, half-open, mid-handshake).
 */
export class SshConnection {
  readonly meta: SocketMeta;
  readonly #client: ssh2.Connection;
  readonly #socket: Socket;
  #handler: SshConnectionHandler | undefined;
  #closedReason: string | undefined;
  #done = false;
  #sessions = 0;

  constructor(client: ssh2.Connection, socket: Socket, meta: SocketMeta) {
    this.#client = client;
    this.#socket = socket;
    this.meta = meta;
  }

  get authenticated(): boolean {
    return this.#client.isAuthenticated;
  }

  attach(handler: SshConnectionHandler): void {
    this.#handler = handler;
    const client = this.#client;
    client.on('error', (err: Error & { level?: string }) => {
      if (err.level === 'client-timeout') this.#closedReason ??= 'keepalive-timeout';
      else this.#closedReason ??= flowViolationOf(err) ?? `error: ${err.message}`;
      // A peer that stopped answering will never complete a FIN handshake.
      this.destroy();
    });
    client.on('close', () => this.#finish());
    client.on('authentication', (ctx) => this.#onAuth(ctx));
    client.on('ready', () => handler.ready());
    client.on('request', (accept, reject, name, info) =>
      this.#onGlobalRequest(accept, reject, name, info),
    );
    client.on('tcpip', (accept, reject, info) => {
      const req: DirectRequest = {
        host: info.destIP,
        port: info.destPort,
        originAddr: info.srcIP,
        originPort: info.srcPort,
      };
      const rejectOpen = withReason(reject);
      this.#guard(() => handler.direct(req, accept, rejectOpen), rejectOpen);
    });
    client.on('openssh.streamlocal', (_accept, reject) => {
      handler.refused('direct-streamlocal');
      reject();
    });
    client.on('session', (accept, reject) => {
      // Sessions only ever carry `nc -U` or a refusal; more than a few at once is abuse.
      if (this.#sessions >= MAX_SESSIONS) {
        handler.refused('session', 'too many sessions');
        reject();
        return;
      }
      this.#sessions += 1;
      const session = accept();
      session.once('close', () => {
        this.#sessions -= 1;
      });
      this.#onSession(session);
    });
    this.#socket.once('close', () => this.#finish());
  }

  #guard(fn: () => void, reject: () => void): void {
    try {
      fn();
    } catch {
      reject();
    }
  }

  #onAuth(ctx: ssh2.AuthContext): void {
    const handler = this.#handler!;
    const attempt = authAttemptOf(ctx);
    Promise.resolve()
      .then(() => handler.authenticate(attempt))
      .then(
        (ok) => (ok && attempt.method === 'publickey' ? ctx.accept() : ctx.reject(['publickey'])),
        () => ctx.reject(['publickey']),
      );
  }

  #onGlobalRequest(
    accept: ((port?: number) => void) | undefined,
    reject: (() => void) | undefined,
    name: string,
    info: unknown,
  ): void {
    const handler = this.#handler!;
    const target = toForwardTarget(name, info);
    if (!target) {
      reject?.();
      return;
    }
    if (name.startsWith('cancel-')) {
      handler.cancelForward(target);
      accept?.();
      return;
    }
    handler.forward(target).then(
      (ok) => (ok ? accept?.() : reject?.()),
      () => reject?.(),
    );
  }

  #onSession(session: ssh2.Session): void {
    const handler = this.#handler!;
    session.on('pty', (_a, reject) => {
      handler.refused('pty');
      reject?.();
    });
    session.on('x11', (_a, reject) => {
      handler.refused('x11');
      reject?.();
    });
    session.on('auth-agent', (_a, reject) => {
      handler.refused('agent-forwarding');
      reject?.();
    });
    session.on('env', (_a, reject, info) => {
      handler.refused('env', info.key);
      reject?.();
    });
    session.on('signal', (_a, reject) => reject?.());
    session.on('subsystem', (_a, reject, info) => {
      handler.refused('subsystem', info.name);
      reject?.();
    });
    session.on('sftp', (_a, reject) => {
      handler.refused('subsystem', 'sftp');
      reject?.();
    });
    session.on('shell', (accept) => {
      handler.refused('shell');
      const stream = accept();
      stream.stderr.write(NO_SHELL_MESSAGE);
      stream.exit(1);
      stream.end();
    });
    session.on('exec', (accept, reject, info) => {
      this.#guard(
        () => handler.exec(info.command, accept as () => ExecStream, reject ?? (() => {})),
        reject ?? (() => {}),
      );
    });
  }

  /**
   * Opens a channel to this (device) connection for a registration it made, answering with
   * exactly the bind address/port or socket path it asked for (OpenSSH refuses anything else).
   */
  openForwarded(target: ForwardTarget, originAddr: string, originPort: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const done = (err: Error | undefined, channel: Duplex) =>
        err ? reject(err) : resolve(channel);
      try {
        if (target.kind === 'tcpip') {
          this.#client.forwardOut(target.bindAddr, target.bindPort, originAddr, originPort, done);
        } else {
          this.#client.openssh_forwardOutStreamLocal(target.socketPath, done);
        }
      } catch (err) {
        reject(err as Error);
      }
    });
  }

  /** Sends a global request the peer need not answer (e.g. `drain@burrow`). */
  notify(requestName: string): boolean {
    if (this.#done) return false;
    return this.#client.sendGlobalRequest(requestName, false);
  }

  /** Sends a debug message (shown by `ssh -v`; read by burrow agents to learn refusal reasons). */
  debug(message: string): boolean {
    if (this.#done) return false;
    return this.#client.sendDebug(message);
  }

  /** Sends an authentication banner (OpenSSH prints it); only before authentication succeeds. */
  banner(message: string): boolean {
    if (this.#done || this.authenticated) return false;
    return this.#client.sendAuthBanner(message);
  }

  /** Immediate close; safe to call any number of times. */
  destroy(reason?: CloseReason): void {
    if (reason) this.#closedReason ??= reason;
    this.#socket.destroy();
    this.#finish();
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#handler?.closed(this.#closedReason ?? 'peer-closed');
  }
}

const OPEN_FAILURE_CODES: Record<OpenRefusal['code'], number> = {
  'administratively-prohibited': CHANNEL_OPEN_FAILURE.ADMINISTRATIVELY_PROHIBITED,
  'connect-failed': CHANNEL_OPEN_FAILURE.CONNECT_FAILED,
  'resource-shortage': CHANNEL_OPEN_FAILURE.RESOURCE_SHORTAGE,
};

/**
 * ssh2's channel-open `reject`, taking a reason. ssh2 1.17.0's own `reject()` takes no arguments
 * and sends an empty description; burrow carries a patch (patches/ssh2+1.17.0.patch, applied by
 * `npm ci`) that lets it pass a reason code and a description through.
 */
function withReason(reject: () => void): RejectOpen {
  const patched = reject as (reasonCode?: number, description?: string) => void;
  return (refusal) =>
    refusal ? patched(OPEN_FAILURE_CODES[refusal.code], refusal.text) : patched();
}

function toForwardTarget(name: string, info: unknown): ForwardTarget | undefined {
  const i = info as { bindAddr?: unknown; bindPort?: unknown; socketPath?: unknown };
  if (name === 'tcpip-forward' || name === 'cancel-tcpip-forward') {
    if (typeof i.bindAddr !== 'string' || typeof i.bindPort !== 'number') return undefined;
    return { kind: 'tcpip', bindAddr: i.bindAddr, bindPort: i.bindPort };
  }
  if (
    name === 'streamlocal-forward@openssh.com' ||
    name === 'cancel-streamlocal-forward@openssh.com'
  ) {
    if (typeof i.socketPath !== 'string') return undefined;
    return { kind: 'streamlocal', socketPath: i.socketPath };
  }
  return undefined;
}

/** What a client's authentication request amounts to, with its signature (if any) verified. */
export function authAttemptOf(ctx: ssh2.AuthContext): AuthAttempt {
  if (ctx.method !== 'publickey') {
    return { method: ctx.method, username: ctx.username, signed: false };
  }
  const pk = ctx as ssh2.PublicKeyAuthContext;
  const signed =
    pk.signature !== undefined &&
    pk.blob !== undefined &&
    verifySignature(pk.key.data, pk.blob, pk.signature, pk.hashAlgo);
  if (pk.signature !== undefined && !signed) {
    return { method: 'publickey-bad-signature', username: ctx.username, signed: false };
  }
  return {
    method: 'publickey',
    username: ctx.username,
    keyAlgo: pk.key.algo,
    keyBlob: pk.key.data,
    signed,
  };
}
