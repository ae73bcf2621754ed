import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The sha256 of the whole file at `path`, hex, read in 1 MiB chunks. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

/**
 * The size of the largest file in `dir` whose name `accept` takes (all by default): how far a
 * transfer into `dir` has come. A file renamed or removed meanwhile counts as nothing.
 */
export function largestFile(dir: string, accept: (name: string) => boolean = () => true): number {
  let max = 0;
  for (const name of readdirSync(dir)) {
    if (!accept(name)) continue;
    try {
      max = Math.max(max, statSync(join(dir, name)).size);
    } catch {
      // gone meanwhile
    }
  }
  return max;
}
