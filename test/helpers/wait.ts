/**
 * Polling and bounded waiting. Readiness is always established by observing the thing itself
 * (a port answering, a line printed), never by sleeping a fixed time.
 */
import { connect } from 'node:net';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /** What is being waited for, as it should read in the error: "sshd to accept connections". */
  what: string;
  /** Upper bound for the whole wait; default 10 000 ms. */
  timeoutMs?: number;
  /** Pause between attempts; default 50 ms. */
  intervalMs?: number;
}

/** A timeout error whose message names what was awaited. */
export class WaitTimeoutError extends Error {
  override name = 'WaitTimeoutError';
}

/**
 * Calls `predicate` until it returns a truthy value, and resolves with that value. A predicate
 * that throws counts as "not yet"; its last error is quoted in the timeout message. Rejects with
 * WaitTimeoutError naming `what` once `timeoutMs` has passed (checked between attempts, so a
 * single slow attempt can overrun the bound by its own duration).
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  opts: WaitOptions,
): Promise<NonNullable<T>> {
  const { what, timeoutMs = 10_000, intervalMs = 50 } = opts;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as NonNullable<T>;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const detail = lastError === undefined ? '' : ` (last error: ${describe(lastError)})`;
      throw new WaitTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

/**
 * Resolves with the value of `promise` if it settles within `timeoutMs`; otherwise rejects with
 * WaitTimeoutError naming `what`. Does not cancel the underlying work.
 */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new WaitTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Waits for `promise` at most `timeoutMs`: resolves with its value, or with undefined once the
 * time is up. The timer is cleared either way, so it never holds the process open.
 */
export async function atMost<T>(promise: Promise<T>, timeoutMs: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  try {
    return await Promise.race([promise, expiry]);
  } finally {
    clearTimeout(timer);
  }
}

export interface PortOptions {
  host?: string;
  timeoutMs?: number;
  /** When given, the port only counts as ready once the server's first bytes match this. */
  banner?: RegExp;
  what?: string;
}

/**
 * Waits until a TCP connection to host:port (default 127.0.0.1) succeeds and, if `banner` is
 * given, the server's first bytes match it. Resolves with the text received (empty without a
 * banner). Each probe connection is closed before returning.
 */
export function waitForPort(port: number, opts: PortOptions = {}): Promise<string> {
  const { host = '127.0.0.1', timeoutMs = 10_000, banner } = opts;
  const what = opts.what ?? `${host}:${port} to accept connections`;
  return waitFor(() => probe(host, port, banner), { what, timeoutMs, intervalMs: 50 }).then(
    (result) => result.text,
  );
}

function probe(host: string, port: number, banner: RegExp | undefined): Promise<{ text: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let text = '';
    let settled = false;
    const done = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve({ text });
    };
    const timer = setTimeout(() => done(new Error('no answer within 2000 ms')), 2000);
    socket.on('error', done);
    socket.on('connect', () => {
      if (!banner) done();
    });
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (banner?.test(text)) done();
    });
    socket.on('close', () => done(new Error(`closed before banner ${banner}; got ${text}`)));
  });
}

/**
 * Resolves with the first match of `re` in the text `stream` emits from now on (output already
 * consumed is not seen). Rejects when the stream ends first or after `timeoutMs` (default 10 s).
 * Accumulated text is bounded to the last 1 MiB.
 */
export function waitForOutput(
  stream: Readable,
  re: RegExp,
  opts: { timeoutMs?: number; what?: string } = {},
): Promise<RegExpMatchArray> {
  const { timeoutMs = 10_000, what = `output matching ${re}` } = opts;
  return new Promise((resolve, reject) => {
    let text = '';
    const cleanup = (): void => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
    };
    const onData = (chunk: Buffer | string): void => {
      text = (text + chunk.toString()).slice(-1_048_576);
      const match = text.match(re);
      if (match) {
        cleanup();
        resolve(match);
      }
    };
    const onEnd = (): void => {
      cleanup();
      reject(new Error(`stream ended before ${what}; last output: ${text.slice(-2000)}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(
        new WaitTimeoutError(
          `timed out after ${timeoutMs} ms waiting for ${what}; last output: ${text.slice(-2000)}`,
        ),
      );
    }, timeoutMs);
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('close', onEnd);
  });
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
