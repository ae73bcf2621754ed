/**
 * The connection under the Redis registry: one Redis (`redis://`, `rediss://`) or the master a
 * set of sentinels points at (`redis-sentinel://`), through the official client (node-redis).
 *
 * Contract:
 * - `openLink` resolves once connected, or rejects within `connectTimeoutMs` with
 *   REFUSED `--registry <masked url>: cannot connect: <reason>`.
 * - After that, a lost connection is retried for ever (backoff up to 1 s). Meanwhile commands
 *   reject at once (no offline queue), and every command is bounded by `commandTimeoutMs`, so a
 *   caller never hangs on a dead or stopped Redis.
 * - The password is never logged and never part of an error message.
 */
import { createClient, createSentinel } from 'redis';
import { BurrowError } from '../core/errors.js';
import { ignoreExpectedErrors } from '../streams/expected-errors.js';
import type { RegistryTarget } from './url.js';

type RedisTarget = Exclude<RegistryTarget, { kind: 'memory' }>;

export interface LinkOptions {
  readonly connectTimeoutMs?: number;
  readonly commandTimeoutMs?: number;
  /** Told when the connection is lost and when it is back; never given secrets. */
  readonly onState?: (state: 'lost' | 'restored', reason: string) => void;
}

export interface Link {
  /** Sends one command; rejects when Redis is unreachable or does not answer in time. */
  send(args: readonly string[]): Promise<unknown>;
  /** Subscribes `listener` to `channel`; resolves once subscribed. */
  subscribe(channel: string, listener: (message: string) => void): Promise<() => Promise<void>>;
  /** Waits up to the command timeout for commands in flight, then disconnects. Idempotent. */
  close(): Promise<void>;
  /**
   * How long (ms) commands have been waiting with no reply (or error) from the client to any of
   * them: since the later of the last one and the moment the link became busy; 0 when idle.
   */
  silentMs(): number;
}

const BACKOFF_CAP_MS = 1000;

/**
 * A short reason for an error from the client: the errno code (ECONNREFUSED) found on it or on
 * an error it wraps, else its first line (a Redis error reply such as WRONGPASS).
 */
export function reasonOf(err: unknown): string {
  const seen = new Set<unknown>();
  const errno = (e: unknown): string | undefined => {
    if (!e || typeof e !== 'object' || seen.has(e)) return undefined;
    seen.add(e);
    const o = e as Record<string, unknown>;
    if (typeof o.code === 'string' && /^E[A-Z0-9_]+$/.test(o.code)) return o.code;
    const inner = Array.isArray(o.errors) ? o.errors : [];
    // node-redis wraps socket errors (ReconnectStrategyError: originalError, socketError).
    for (const x of [o.cause, o.originalError, o.socketError, ...inner]) {
      const found = errno(x);
      if (found) return found;
    }
    return undefined;
  };
  const message = err instanceof Error ? err.message : String(err);
  return errno(err) ?? (message.split('\n')[0] || 'unknown error');
}

export async function openLink(target: RedisTarget, opts: LinkOptions = {}): Promise<Link> {
  const connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
  const commandTimeoutMs = opts.commandTimeoutMs ?? 3000;
  let everReady = false;
  let up = false;
  // Before the first success, give up at the first failure so the start fails with its reason;
  // after it, retry for ever.
  const reconnectStrategy = (retries: number, cause: Error): number | Error =>
    everReady ? Math.min(50 * 2 ** Math.min(retries, 5), BACKOFF_CAP_MS) : cause;
  const socket = { connectTimeout: connectTimeoutMs, reconnectStrategy };
  const creds = {
    ...(target.username !== undefined ? { username: target.username } : {}),
    ...(target.password !== undefined ? { password: target.password } : {}),
    database: target.db,
    disableOfflineQueue: true,
  };
  const onError = (err: unknown) => {
    if (up) {
      up = false;
      opts.onState?.('lost', reasonOf(err));
    }
  };
  const onReady = () => {
    if (everReady && !up) opts.onState?.('restored', 'connected');
    up = true;
    everReady = true;
  };

  let send: (args: readonly string[]) => Promise<unknown>;
  let subscribe: Link['subscribe'];
  let shut: () => Promise<void>;
  let connect: () => Promise<unknown>;

  if (target.kind === 'redis') {
    const client = createClient({
      socket: target.tls
        ? { ...socket, host: target.host, port: target.port, tls: true, servername: target.host }
        : { ...socket, host: target.host, port: target.port },
      ...creds,
    });
    client.on('error', onError);
    client.on('ready', onReady);
    const subscribers = new Set<{ destroy(): void }>();
    send = (args) => client.sendCommand([...args]);
    subscribe = async (channel, listener) => {
      const sub = client.duplicate();
      ignoreExpectedErrors(sub, 'a Redis subscriber connection'); // the main client reports the connection state
      subscribers.add(sub);
      await sub.connect();
      await sub.subscribe(channel, listener);
      return async () => {
        subscribers.delete(sub);
        sub.destroy();
      };
    };
    shut = async () => {
      for (const sub of subscribers) sub.destroy();
      subscribers.clear();
      // Let commands already sent (the releases of a closing relay) finish, but not for ever.
      if (client.isReady) await bounded(client.close(), commandTimeoutMs, 'close').catch(() => {});
      client.destroy();
    };
    connect = () => client.connect();
  } else {
    const sentinel = createSentinel({
      name: target.master,
      sentinelRootNodes: target.sentinels.map((s) => ({ host: s.host, port: s.port })),
      nodeClientOptions: { socket, ...creds },
      sentinelClientOptions: { socket },
    });
    sentinel.on('error', onError);
    send = (args) => sentinel.sendCommand(undefined, [...args]);
    subscribe = async (channel, listener) => {
      const onMessage = (message: string | Buffer) => listener(String(message));
      await sentinel.subscribe(channel, onMessage);
      return async () => {
        await sentinel.unsubscribe(channel, onMessage);
      };
    };
    shut = async () => {
      await sentinel.destroy();
    };
    connect = async () => {
      await sentinel.connect();
      onReady();
    };
  }

  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), connectTimeoutMs);
  });
  try {
    await Promise.race([connect(), deadline]);
  } catch (err) {
    await shut().catch(() => {});
    throw new BurrowError(
      'REFUSED',
      `--registry ${target.display}: cannot connect: ${reasonOf(err)}`,
      {
        cause: err,
      },
    );
  } finally {
    clearTimeout(timer);
  }

  let closed = false;
  // Progress: commands waiting (until answered or timed out), since when, and the last answer.
  let waiting = 0;
  let busySince = 0;
  let answeredAt = 0;
  const answered = () => {
    answeredAt = performance.now();
  };
  return {
    send(args) {
      if (waiting === 0) busySince = performance.now();
      waiting += 1;
      const sent = send(args);
      sent.then(answered, answered);
      return bounded(sent, commandTimeoutMs, args[0] ?? 'command').finally(() => {
        waiting -= 1;
      });
    },
    silentMs: () => (waiting === 0 ? 0 : performance.now() - Math.max(busySince, answeredAt)),
    subscribe: (channel, listener) =>
      bounded(subscribe(channel, listener), connectTimeoutMs, 'SUBSCRIBE'),
    async close() {
      if (closed) return;
      closed = true;
      await shut().catch(() => {});
    },
  };
}

/** `promise`, or a rejection naming `what` once `ms` has passed. */
function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`registry ${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
