/**
 * The single executables (dist/bin/burrow, dist/bin/otssh) for tests that run them: built with
 * `scripts/build-binary.mjs` when missing or older than any source file, once for all the test
 * files that run at the same time. The Node runtime it downloads is cached.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = new URL('../../../', import.meta.url).pathname;
export const BINARIES = {
  burrow: join(ROOT, 'dist/bin/burrow'),
  otssh: join(ROOT, 'dist/bin/otssh'),
};

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (/\.c?ts$/.test(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** The newest of the native byte path's sources (embedded as shim-pump.node). */
function newestNative(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    if (/\.[ch]$/.test(name)) newest = Math.max(newest, statSync(join(dir, name)).mtimeMs);
  }
  return newest;
}

function builtAt(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

let ready: Promise<void> | undefined;

/** Newer sources than the oldest of the two executables (or one missing). */
function stale(): boolean {
  const sources = Math.max(
    newestSource(join(ROOT, 'src')),
    builtAt(join(ROOT, 'scripts/build-binary.mjs')),
    builtAt(join(ROOT, 'scripts/sea-pty-binary.cjs')),
    builtAt(join(ROOT, 'scripts/sea-sshcrypto-binding.cjs')),
    builtAt(join(ROOT, 'scripts/build-sshcrypto.mjs')),
    builtAt(join(ROOT, 'scripts/sea-asset-addon.cjs')),
    builtAt(join(ROOT, 'scripts/sea-shim-pump.cjs')),
    builtAt(join(ROOT, 'scripts/build-native.mjs')),
    newestNative(join(ROOT, 'native')),
    builtAt(join(ROOT, 'patches/ssh2+1.17.0.patch')),
    builtAt(join(ROOT, 'package-lock.json')),
  );
  return Math.min(builtAt(BINARIES.burrow), builtAt(BINARIES.otssh)) <= sources;
}

/**
 * Builds the executables when stale(). The test files that need them run at the same time, each
 * in its own process: under scripts/cache-lock.mjs's lock on dist/bin, the first builds and the
 * others, finding them fresh once they hold the lock, do not build them again.
 */
export function ensureBinaries(): Promise<void> {
  ready ??= (async () => {
    if (!stale()) return;
    const { withCacheLock } = (await import(
      pathToFileURL(join(ROOT, 'scripts', 'cache-lock.mjs')).href
    )) as { withCacheLock: (dir: string, fn: () => Promise<void>) => Promise<void> };
    await withCacheLock(join(ROOT, 'dist', 'bin'), async () => {
      if (!stale()) return;
      const r = spawnSync(process.execPath, [join(ROOT, 'scripts/build-binary.mjs')], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 600_000,
      });
      if (r.status !== 0) {
        throw new Error(`building the binaries failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
      }
    });
  })();
  return ready;
}
