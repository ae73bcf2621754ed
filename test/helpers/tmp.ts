/**
 * A private temporary directory per test. Set BURROW_KEEP_TMP=1 to keep it after the test (its
 * path is printed to stderr) for looking at configs, keys and logs by hand.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Scope } from './scope.js';

/**
 * Creates a fresh directory (mode 0700) under the OS temp dir and registers its removal with
 * `scope`. The path is absolute and contains no spaces or '%' (safe in ssh and sshd configs).
 */
export async function tmpDir(scope: Scope, prefix = 'burrow-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o700);
  if (process.env.BURROW_KEEP_TMP === '1') {
    scope.defer(() => {
      process.stderr.write(`BURROW_KEEP_TMP=1: kept ${dir}\n`);
    }, `keep ${dir}`);
  } else {
    scope.defer(() => rm(dir, { recursive: true, force: true, maxRetries: 3 }), `remove ${dir}`);
  }
  return dir;
}
