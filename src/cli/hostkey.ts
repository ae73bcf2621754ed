import {
  chmodSync,
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { BurrowError, configError } from '../core/errors.js';
import { generateEd25519, type HostKey, parseHostKey } from '../ssh/index.js';

/**
 * Loads the host key at `path`, creating a new ed25519 key (mode 0600, in a 0700 directory if it
 * has to make one) when the file does not exist. Refuses a key file others can read: a host key
 * anyone on the machine can copy is an impersonation waiting to happen.
 */
export function loadOrCreateHostKey(
  path: string,
  flag = '--host-key',
): { key: HostKey; created: boolean } {
  let text: string;
  let created = false;
  try {
    const st = statSync(path);
    if ((st.mode & 0o077) !== 0) {
      throw configError(
        `${flag}: ${path} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); run: chmod 600 ${path}`,
      );
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof BurrowError) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw configError(`${flag}: cannot read ${path}: ${(err as Error).message}`, err);
    }
    text = generateEd25519('burrow-relay').privateKey;
    writeNewSecret(path, text, flag);
    created = true;
  }
  try {
    return { key: parseHostKey(text, path), created };
  } catch (err) {
    throw configError(`${flag}: ${(err as Error).message}`, err);
  }
}

/** Creates `path` exclusively with mode 0600 (never overwrites, never widens permissions). */
export function writeNewSecret(path: string, text: string, flag: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const fd = openSync(path, 'wx', 0o600);
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    chmodSync(path, 0o600);
  } catch (err) {
    throw configError(`${flag}: cannot create ${path}: ${(err as Error).message}`, err);
  }
}
