/**
 * Bearer-token check for the coordinator's reads. The comparison takes the same time whatever
 * the token sent (both sides hashed to 32 bytes, then `timingSafeEqual`), and the token is never
 * logged or echoed.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** A checker for `Authorization: Bearer <token>` headers against `token`. */
export function bearerChecker(token: string): (header: string | undefined) => boolean {
  const want = digest(token);
  return (header) => {
    const m = /^Bearer +(\S{1,4096})\s*$/i.exec(header ?? '');
    const got = digest(m?.[1] ?? '');
    return timingSafeEqual(want, got) && m !== null;
  };
}

/** The check for the coordinator's reads: every header passes when no token is configured. */
export function tokenChecker(token: string | undefined): (header: string | undefined) => boolean {
  return token === undefined ? () => true : bearerChecker(token);
}
