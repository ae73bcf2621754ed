import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type ssh2Types from 'ssh2';
import { DRAIN_REQUEST, SSH_IDENT_SOFTWARE } from '../core/constants.js';
import { CodedError } from '../core/errors.js';
import {
  parseForwardRefused,
  type RegisterFailure,
  type RegisterRefusal,
} from '../core/refusals.js';
import { coalesceWrites } from '../streams/coalesce.js';
import { DEFAULT_CIPHERS } from './server.js';
import ssh2 from './ssh2.js';
import { flowViolationOf } from './violations.js';

/**
 * The client half of burrow's SSH use: one outbound connection from an agent to a relay. Turns
 * ssh2's client callbacks into a small domain surface (register a name, serve channels, hear a
 * drain, learn when the connection is gone) and owns liveness: the connection is declared lost
 * at once on TCP close/reset and within `keepaliveIntervalMs × keepaliveCountMax` when the
 * relay goes silent.
 */

export interface HostKeyCheck {
  readonly ok: boolean;
  /** One line for the operator when `ok` is false. */
  readonly message?: string;
}

export interface RelayLinkOptions {
  readonly host: string;
  readonly port: number;
  /** SSH user name sent to the relay (the relay ignores it; the key decides). */
  readonly username: string;
  /** Private key text (OpenSSH or PEM). Never logged. */
  readonly privateKey: string;
  /** Decides on the relay's host key blob; called once per connection, before authentication. */
  readonly verifyHostKey: (keyBlob: Buffer) => HostKeyCheck;
  readonly keepaliveIntervalMs: number;
  readonly keepaliveCountMax: number;
  /** Bound on TCP connect + SSH handshake + authentication. */
  readonly connectTimeoutMs: number;
  readonly ciphers?: readonly string[];
}

/** Why a connection attempt failed; the code decides whether retrying can help. */
export type LinkErrorCode = 'host-key' | 'auth' | 'network' | 'protocol';

export class LinkError extends CodedError<LinkErrorCode> {
  override readonly name = 'LinkError';
}

export interface IncomingChannel {
  /** The registration it arrived for, exactly as registered. */
  readonly name: string;
  readonly port: number;
  readonly originAddr: string;
  readonly originPort: number;
}

export interface LinkHandlers {
  /** A client reached one of our names. Call exactly one of accept/reject. */
  channel(info: IncomingChannel, accept: () => Duplex, reject: () => void): void;
  /** The relay sent `drain@burrow`: it is shutting down and asks us to move. */
  drain(): void;
  /** The connection is gone (called once, never before `connect` resolved). */
  lost(reason: string): void;
}

export type RegisterResult = { ok: true } | { ok: false; reason: RegisterFailure };

/** One registration awaiting the relay's answer; `reason` is set by a refusal naming it. */
interface PendingRegistration {
  reason?: RegisterRefusal | 'unknown';
}

/** A live, authenticated connection to one relay. */
export class RelayLink {
  readonly #client: ssh2Types.Client;
  readonly #socket: Socket;
  /**
   * Registrations in flight, by request text (`name:port`, as the relay echoes it in a refusal),
   * oldest first: the relay answers requests in the order they were sent.
   */
  readonly #inFlight = new Map<string, PendingRegistration[]>();
  #handlers: LinkHandlers | undefined;
  #lost = false;
  #channels = 0;
  #watchdog: NodeJS.Timeout | undefined;

  private constructor(client: ssh2Types.Client, socket: Socket) {
    this.#client = client;
    this.#socket = socket;
  }

  /**
   * Connects, verifies the host key, authenticates. Rejects with a LinkError; on success the
   * link reports to `handlers` from then on.
   */
  static connect(opts: RelayLinkOptions, handlers: LinkHandlers): Promise<RelayLink> {
    const socket = netConnect({ host: opts.host, port: opts.port, noDelay: true });
    socket.setKeepAlive(true, 15_000);
    coalesceWrites(socket);
    const client = new ssh2.Client();
    const link = new RelayLink(client, socket);
    let hostKeyProblem: string | undefined;
    let lastRx = Date.now();
    socket.on('data', () => {
      lastRx = Date.now();
    });

    return new Promise<RelayLink>((resolve, reject) => {
      let settled = false;
      const fail = (err: LinkError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      const timer = setTimeout(
        () => fail(new LinkError('network', `no answer within ${opts.connectTimeoutMs} ms`)),
        opts.connectTimeoutMs,
      );
      client.on('error', (err: Error & { level?: string }) => {
        if (!settled) {
          if (hostKeyProblem) return fail(new LinkError('host-key', hostKeyProblem));
          if (err.level === 'client-authentication') {
            return fail(new LinkError('auth', 'the relay refused this key'));
          }
          const kind = err.level === 'client-socket' || err.level === 'client-timeout';
          return fail(new LinkError(kind ? 'network' : 'protocol', describeError(err)));
        }
        link.#lose(
          err.level === 'client-timeout'
            ? 'keepalive-timeout'
            : (flowViolationOf(err) ?? describeError(err)),
        );
      });
      client.on('close', () => {
        if (!settled) fail(new LinkError('network', 'connection closed during handshake'));
        else link.#lose('connection-closed');
      });
      client.on('ready', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        link.#handlers = handlers;
        link.#startWatchdog(opts, () => lastRx);
        resolve(link);
      });
      client.on('global-request', (name) => {
        if (name === DRAIN_REQUEST) link.#handlers?.drain();
      });
      // A burrow relay says why it refused a registration in a debug message naming the request,
      // before the refusal (SSH_MSG_REQUEST_FAILURE carries no reason).
      client.on('debug-message', (text) => link.#onDebug(text));
      client.on('tcp connection', (info, accept, reject) => {
        if (!link.#handlers) return reject();
        link.#onChannel(
          {
            name: info.destIP,
            port: info.destPort,
            originAddr: info.srcIP,
            originPort: info.srcPort,
          },
          accept,
          reject,
        );
      });
      client.connect({
        sock: socket,
        username: opts.username,
        privateKey: opts.privateKey,
        ident: SSH_IDENT_SOFTWARE,
        readyTimeout: 0,
        // ssh2's own keepalive sends the probes (keeping its reply bookkeeping in order); the
        // watchdog below decides liveness from bytes received. Its count is only a backstop.
        keepaliveInterval: opts.keepaliveIntervalMs,
        keepaliveCountMax: opts.keepaliveCountMax + 2,
        algorithms: {
          cipher: [...(opts.ciphers ?? DEFAULT_CIPHERS)] as ssh2Types.CipherAlgorithm[],
        },
        hostVerifier: (key: Buffer) => {
          const check = opts.verifyHostKey(key);
          if (!check.ok) hostKeyProblem = check.message ?? 'host key refused';
          return check.ok;
        },
      });
    });
  }

  /** Forwarded channels currently open on this link. */
  get openChannels(): number {
    return this.#channels;
  }

  get isLost(): boolean {
    return this.#lost;
  }

  /**
   * Registers `name:port`. A refusal carries the relay's reason when it gave one (a burrow relay
   * does; another SSH server gives `unknown`).
   */
  register(name: string, port: number): Promise<RegisterResult> {
    return new Promise((resolve) => {
      const key = `${name}:${port}`;
      const pending: PendingRegistration = {};
      const queue = this.#inFlight.get(key) ?? [];
      queue.push(pending);
      this.#inFlight.set(key, queue);
      const settle = (result: RegisterResult) => {
        const i = queue.indexOf(pending);
        if (i >= 0) queue.splice(i, 1);
        if (queue.length === 0 && this.#inFlight.get(key) === queue) this.#inFlight.delete(key);
        resolve(result);
      };
      try {
        this.#client.forwardIn(name, port, (err) => {
          if (!err) return settle({ ok: true });
          const reason = pending.reason ?? (this.#lost ? 'connection-lost' : 'unknown');
          settle({ ok: false, reason });
        });
      } catch {
        settle({ ok: false, reason: 'connection-lost' });
      }
    });
  }

  /**
   * A relay's debug message. A forward refusal is given to the oldest registration in flight for
   * the request it names that has no reason yet; one naming no such request (a name released
   * later, another client's wording) is ignored.
   */
  #onDebug(text: string): void {
    const refusal = parseForwardRefused(text);
    if (!refusal) return;
    const waiting = this.#inFlight.get(refusal.request)?.find((p) => p.reason === undefined);
    if (waiting) waiting.reason = refusal.reason;
  }

  /** Withdraws a registration; resolves when the relay has answered (or the link is gone). */
  unregister(name: string, port: number): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.#client.unforwardIn(name, port, () => resolve());
      } catch {
        resolve();
      }
    });
  }

  /**
   * Opens a `direct-tcpip` channel to `host:port` through the relay (a relay-to-relay link uses
   * this to reach a name the other relay holds). Rejects with an OpenFailure carrying the peer's
   * channel-open failure description, or `connection-lost`.
   */
  openDirect(host: string, port: number, originAddr: string, originPort: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      if (this.#lost) return reject(new OpenFailure('connection-lost'));
      try {
        this.#client.forwardOut(originAddr, originPort, host, port, (err, channel) => {
          if (err) {
            const text = (err as Error & { reason?: unknown }).reason === '' ? '' : err.message;
            return reject(
              this.#lost
                ? new OpenFailure('connection-lost')
                : new OpenFailure('open-refused', channelOpenText(text)),
            );
          }
          resolve(channel);
        });
      } catch {
        reject(new OpenFailure('connection-lost'));
      }
    });
  }

  /** Closes at once, deliberately: `lost` is not reported. Idempotent. */
  close(): void {
    this.#handlers = undefined;
    this.#lose('closed');
  }

  #onChannel(info: IncomingChannel, accept: () => Duplex, reject: () => void): void {
    let counted = false;
    const countedAccept = () => {
      const channel = accept();
      counted = true;
      this.#channels += 1;
      channel.once('close', () => {
        if (counted) this.#channels -= 1;
        counted = false;
      });
      return channel;
    };
    try {
      this.#handlers?.channel(info, countedAccept, reject);
    } catch {
      reject();
    }
  }

  /** Declares the link lost once no byte has arrived for interval × count (exactly, not polled). */
  #startWatchdog(opts: RelayLinkOptions, lastRx: () => number): void {
    const bound = opts.keepaliveIntervalMs * opts.keepaliveCountMax;
    const check = () => {
      const due = lastRx() + bound;
      const now = Date.now();
      if (now >= due) {
        this.#lose('keepalive-timeout');
        return;
      }
      this.#watchdog = setTimeout(check, due - now);
    };
    this.#watchdog = setTimeout(check, bound);
  }

  #lose(reason: string): void {
    if (this.#lost) return;
    this.#lost = true;
    clearTimeout(this.#watchdog);
    this.#socket.destroy();
    this.#handlers?.lost(reason);
  }
}

/**
 * A channel that was not opened: `open-refused` with the peer's channel-open failure text as
 * `description` (empty when it gave none), or `connection-lost`.
 */
export class OpenFailure extends CodedError<'open-refused' | 'connection-lost'> {
  override readonly name = 'OpenFailure';
  readonly description: string;
  constructor(code: 'open-refused' | 'connection-lost', description = '') {
    super(code, description || code);
    this.description = description;
  }
}

const OPEN_FAILURE_PREFIX = '(SSH) Channel open failure: ';

/** ssh2 reports a refused channel as an Error whose message is this prefix + the peer's text. */
function channelOpenText(message: string): string {
  return message.startsWith(OPEN_FAILURE_PREFIX) ? message.slice(OPEN_FAILURE_PREFIX.length) : '';
}

function describeError(err: Error & { code?: string }): string {
  return err.code ? `${err.code} (${err.message})` : err.message;
}
