/**
 * Typed errors. `code` is stable and machine-readable, `message` is safe to show to the person on
 * the other end (never contains secrets or internal paths they should not see), and `cause` is for
 * logs only.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'KEY_INVALID'
  | 'POLICY_LINE_INVALID'
  /** The installed ssh2 lacks something burrow relies on (see src/ssh/ssh2.ts). */
  | 'SSH2_SEAM_MISSING'
  /** The command was understood but not done (not found, already there); exit status 1. */
  | 'REFUSED';

/**
 * An error whose `code` is one word of its own union `C`: callers branch on the code, never on
 * the message. Every error class in burrow extends this one.
 */
export class CodedError<C extends string> extends Error {
  readonly code: C;

  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export class BurrowError extends CodedError<ErrorCode> {
  override readonly name = 'BurrowError';
}

/** Config the user gave is wrong; the message names the flag or file to fix. */
export function configError(message: string, cause?: unknown): BurrowError {
  return new BurrowError('CONFIG_INVALID', message, { cause });
}

export function isBurrowError(err: unknown): err is BurrowError {
  return err instanceof BurrowError;
}
