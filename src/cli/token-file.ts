import { readFileSync } from 'node:fs';
import { configError } from '../core/errors.js';

/** Longest token file read: a bearer token is a line, not a document. */
const MAX_TOKEN_BYTES = 4096;

/**
 * The bearer token held in `file` (one line, no spaces; surrounding whitespace ignored). Throws
 * CONFIG_INVALID naming `flag` for a file that cannot be read, is empty or holds anything else.
 * The token itself never appears in a message.
 */
export function readTokenFile(flag: string, file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw configError(`${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code}`, err);
  }
  const token = text.trim();
  if (token === '') throw configError(`${flag}: ${file} is empty`);
  if (Buffer.byteLength(text) > MAX_TOKEN_BYTES || /\s/.test(token)) {
    throw configError(`${flag}: ${file} must hold one token (no spaces, one line)`);
  }
  return token;
}
