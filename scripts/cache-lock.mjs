/**
 * One process at a time in a cache directory: `withCacheLock(dir, fn)` runs `fn` while holding
 * `<dir>.lock`, a directory holding the holder's pid. Two builds started together (two test files
 * on a fresh clone, or a user's two terminals) would otherwise both download the runtime and move
 * it into the same place, and one would fail. A lock whose holder has died is taken over; a lock
 * held for longer than `waitMs` by a live process is an error naming it. Plain ESM.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

export async function withCacheLock(dir, fn, { waitMs = 20 * 60_000 } = {}) {
  const lock = `${dir}.lock`;
  await mkdir(dirname(lock), { recursive: true });
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      // Empty while its holder is between mkdir and writeFile: wait, as for a live holder.
      const pid = Number(await readFile(join(lock, 'pid'), 'utf8').catch(() => '0'));
      if (pid > 0 && !alive(pid)) {
        await rm(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `${lock} is still held by pid ${pid || 'unknown'} after ${waitMs / 1000} s`,
        );
      }
      await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}
