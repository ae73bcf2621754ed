import { randomBytes, timingSafeEqual } from 'node:crypto';
import { lstatSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CodedError } from '../core/errors.js';

/**
 * Where a remote session's holder listens, and who may reach it: a unix socket in a directory
 * only the user can enter (0700, owned by the user, not a symlink), named by the session id; a
 * connection must then present the session's secret. Another user can neither reach the socket
 * nor, without the secret, attach even if they could.
 */

export const SESSION_ID_BYTES = 16;
export const SECRET_BYTES = 32;

export function newSessionId(): Buffer {
  return randomBytes(SESSION_ID_BYTES);
}

export function newSecret(): Buffer {
  return randomBytes(SECRET_BYTES);
}

/** Constant-time comparison of a presented secret with the real one. */
export function secretMatches(presented: Buffer, secret: Buffer): boolean {
  return presented.length === secret.length && timingSafeEqual(presented, secret);
}

export type SessionDirErrorCode = 'not-a-directory' | 'wrong-owner' | 'open-to-others';

/** The session directory is unsafe to put sockets in; the message says what to fix. */
export class SessionDirError extends CodedError<SessionDirErrorCode> {
  override readonly name = 'SessionDirError';
}

/**
 * Creates (if needed) and checks the per-user directory for session sockets. Refuses a directory
 * that is a symlink, owned by someone else, or open to group/others: each of those would let
 * another user reach or replace the sockets.
 */
export function sessionDir(base: string): string {
  const dir = join(base, 'shim');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  const uid = process.getuid?.();
  if (!st.isDirectory() || st.isSymbolicLink()) {
    throw new SessionDirError('not-a-directory', `${dir} is not a directory`);
  }
  if (uid !== undefined && st.uid !== uid) {
    throw new SessionDirError(
      'wrong-owner',
      `${dir} belongs to uid ${st.uid}, not to this user (${uid})`,
    );
  }
  if ((st.mode & 0o077) !== 0) {
    throw new SessionDirError(
      'open-to-others',
      `${dir} is open to other users (mode ${(st.mode & 0o777).toString(8)}); run: chmod 700 ${dir}`,
    );
  }
  return dir;
}

export function socketPath(dir: string, sessionId: Buffer): string {
  return join(dir, `${sessionId.toString('hex')}.sock`);
}
