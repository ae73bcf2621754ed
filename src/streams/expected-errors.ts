import type { EventEmitter } from 'node:events';

/**
 * Errors that end a stream or socket in the normal course of a shutdown, by code, with why each
 * is expected. Each is followed by the emitter's 'close', which is where the owner reacts; the
 * error itself carries nothing to act on.
 */
export const EXPECTED_SHUTDOWN_ERRORS: ReadonlyMap<string, string> = new Map([
  ['EPIPE', 'a write after the reader went away (the peer closed, the child process exited)'],
  ['ECONNRESET', 'the peer reset the connection (it was killed, or dropped it)'],
  ['ECONNABORTED', 'the connection was aborted before or while it was accepted'],
  ['ETIMEDOUT', 'TCP gave up on a peer that stopped answering (a half-open connection)'],
  ['ERR_STREAM_DESTROYED', 'a write to a stream this side has already destroyed'],
  ['ERR_STREAM_PREMATURE_CLOSE', 'the other end closed the stream before ending it'],
]);

/** Whether `err` has one of the codes in `EXPECTED_SHUTDOWN_ERRORS`. */
export function isExpectedShutdownError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && EXPECTED_SHUTDOWN_ERRORS.has(code);
}

/** Where an unexpected error is reported: a logger (pino's `warn` fits), else one stderr line. */
export interface UnexpectedErrorLog {
  warn(fields: object, message: string): void;
}

/**
 * Handles 'error' on `emitter` so that it never throws: the expected shutdown errors are dropped,
 * and the first other error is reported once, naming `what` ("the relay's client socket"),
 * through `log` or else as one line on stderr; later errors from the same emitter are dropped.
 * The owner still reacts to the end of the stream through 'close'.
 */
export function ignoreExpectedErrors(
  emitter: Pick<EventEmitter, 'on'>,
  what: string,
  log?: UnexpectedErrorLog,
): void {
  let reported = false;
  emitter.on('error', (err: unknown) => {
    if (reported || isExpectedShutdownError(err)) return;
    reported = true;
    const code = (err as { code?: unknown } | null | undefined)?.code;
    const text = (err instanceof Error ? err.message : String(err)).replace(/\p{Cc}/gu, '?');
    const message = `unexpected error on ${what}: ${text}`;
    if (log) log.warn({ err: text, ...(typeof code === 'string' ? { code } : {}) }, message);
    else process.stderr.write(`burrow: ${message}\n`);
  });
}
