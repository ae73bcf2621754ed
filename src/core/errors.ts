/**
 * Typed errors. `code` is stable and machine-readable, `message` is safe to show to the person on
 * the other end (never contains secrets or internal paths they should not see), and `cause` is for
 * logs only.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'KEY_INVALID'
  | 'POLICY_LINE_INVALID'
  | 'NAME_INVALID'
  | 'NAME_NOT_PERMITTED'
  | 'NAME_HELD'
  | 'NAME_UNKNOWN'
  | 'OPEN_NOT_PERMITTED'
  | 'AUTH_REFUSED'
  | 'LISTEN_FAILED'
  | 'IO_FAILED';

export class BurrowError extends Error {
  override readonly name = 'BurrowError';
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Config the user gave is wrong; the message names the flag or file to fix. */
export function configError(message: string, cause?: unknown): BurrowError {
  return new BurrowError('CONFIG_INVALID', message, { cause });
}

export function isBurrowError(err: unknown): err is BurrowError {
  return err instanceof BurrowError;
}

/** Error codes a socket raises when the peer simply went away; expected during teardown. */
const PEER_GONE = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'ERR_STREAM_DESTROYED',
  'ETIMEDOUT',
]);

export function isPeerGone(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && PEER_GONE.has(code);
}
