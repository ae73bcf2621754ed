import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** The sha256 of the whole file at `path`, hex, read in 1 MiB chunks. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}
