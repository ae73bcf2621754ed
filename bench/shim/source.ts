/**
 * The file every transfer sends: random-ish bytes (one random MiB repeated, each copy stamped
 * with its index, so no two MiB are alike and nothing compresses), written once, and the sha256
 * a copy must match.
 */
import { createHash, randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';

const MiB = 2 ** 20;

/** Writes `bytes` bytes to `path`; returns their sha256 (hex), computed while writing. */
export async function writeSource(path: string, bytes: number): Promise<string> {
  const block = randomBytes(MiB);
  const hash = createHash('sha256');
  const file = await open(path, 'w', 0o600);
  try {
    for (let at = 0, i = 0; at < bytes; at += MiB, i++) {
      block.writeUInt32BE(i, 0);
      const piece = block.subarray(0, Math.min(MiB, bytes - at));
      hash.update(piece);
      await file.write(piece);
    }
  } finally {
    await file.close();
  }
  return hash.digest('hex');
}

export { sha256File as sha256 } from '../../test/helpers/files.js';
