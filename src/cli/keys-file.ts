import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chown, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { BurrowError, configError } from '../core/errors.js';

/**
 * The policy file as `burrow keys` changes it. Contract:
 * - every change happens under `FILE.lock` (created with O_EXCL, removed after), so concurrent
 *   `burrow keys` runs apply one after another and none loses another's line;
 * - a change is a new file written beside the old one, fsynced, then renamed over it: a reader
 *   (the relay) sees the old text or the new, never half of either;
 * - the new file keeps the old one's mode (and owner, when run as root); a file created here is
 *   0600, in a directory created 0700;
 * - inputs are bounded: a policy or key file over MAX_FILE_BYTES is refused unread.
 */

export const MAX_FILE_BYTES = 16 * 1024 * 1024;

/** A lock older than this is left over from a run that died; it is taken over. */
const LOCK_STALE_MS = 10_000;
/** How long to wait for another run's lock before giving up. */
const LOCK_WAIT_MS = 15_000;
const LOCK_POLL_MS = 25;

/** Refusals that are not usage errors (exit status 1). */
export function refused(message: string): BurrowError {
  return new BurrowError('REFUSED', message);
}

/** Reads a file of at most MAX_FILE_BYTES; undefined when it does not exist. */
export async function readBounded(path: string, what: string): Promise<string | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, constants.O_RDONLY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw refused(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw refused(`${what} ${path} is not a regular file`);
    if (st.size > MAX_FILE_BYTES) {
      throw refused(`${what} ${path} is larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB`);
    }
    const buf = Buffer.alloc(MAX_FILE_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, length, buf.length - length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_FILE_BYTES) {
        throw refused(`${what} ${path} is larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB`);
      }
    }
    return buf.subarray(0, length).toString('utf8');
  } finally {
    await handle.close();
  }
}

/** Reads stdin, at most MAX_FILE_BYTES. */
export async function readStdinBounded(): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of process.stdin) {
    length += (chunk as Buffer).length;
    if (length > MAX_FILE_BYTES) {
      throw configError(`stdin holds more than ${MAX_FILE_BYTES / 1024 / 1024} MiB`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Runs `change` on the file's current text (undefined when it does not exist) under the lock,
 * and writes what it returns (nothing when it returns undefined). Returns `change`'s result.
 */
export async function editFile<T>(
  path: string,
  change: (text: string | undefined) => { text?: string; result: T },
): Promise<T> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const release = await lock(path);
  try {
    const before = await readBounded(path, 'policy file');
    const { text, result } = change(before);
    if (text !== undefined) await replaceFile(path, text);
    return result;
  } finally {
    await release();
  }
}

async function lock(path: string): Promise<() => Promise<void>> {
  const lockPath = `${path}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return () => unlink(lockPath).catch(() => undefined);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw refused(`cannot create the lock ${lockPath}: ${(err as Error).message}`);
      }
    }
    const held = await stat(lockPath).catch(() => undefined);
    if (held !== undefined && Date.now() - held.mtimeMs > LOCK_STALE_MS) {
      // Left by a run that died: take it over (another run may race us to it; O_EXCL decides).
      await unlink(lockPath).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) {
      throw refused(
        `${lockPath} is held by another burrow keys; if none is running, remove that file`,
      );
    }
    await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
  }
}

/** Writes `text` to a temporary file beside `path`, fsyncs it, and renames it over `path`. */
async function replaceFile(path: string, text: string): Promise<void> {
  const old = await stat(path).catch(() => undefined);
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', 0o600);
  try {
    try {
      await handle.writeFile(text);
      await handle.chmod(old === undefined ? 0o600 : old.mode & 0o7777);
      if (old !== undefined && process.getuid?.() === 0) await chown(tmp, old.uid, old.gid);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw refused(`cannot write ${path}: ${(err as Error).message}`);
  }
  // The rename itself is durable once the directory is synced.
  const dir = await open(dirname(path), constants.O_RDONLY).catch(() => undefined);
  await dir?.sync().catch(() => undefined);
  await dir?.close();
}
