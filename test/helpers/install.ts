/**
 * burrow installed the documented way from this clone (README "Install"): `npm install -g .`
 * from the repository root, with npm's global prefix in a temp dir. npm links the clone into
 * `<prefix>/lib/node_modules/burrow` and the package's `bin` entries (burrow, burrow-shim, otssh)
 * into `<prefix>/bin`, the directory tests put on PATH. Relies on dist/ being built (`npm test`
 * builds it first), as the README relies on `npm ci`.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from './run.js';
import type { Scope } from './scope.js';
import { tmpDir } from './tmp.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The names `npm install -g .` puts on PATH (package.json `bin`). */
export const INSTALLED_COMMANDS = ['burrow', 'burrow-shim', 'otssh'] as const;

export interface Install {
  /** npm's global prefix for this install. */
  readonly prefix: string;
  /** `<prefix>/bin`, holding the INSTALLED_COMMANDS: prepend it to PATH. */
  readonly bin: string;
  /** PATH with `bin` first. */
  readonly path: string;
}

/**
 * Runs `npm install -g .` in the repository root with NPM_CONFIG_PREFIX set to a new temp dir
 * (removed with `scope`, which unlinks the install without touching the clone). npm_* variables
 * inherited from an `npm test` run are dropped, so only that prefix applies. Throws, quoting npm,
 * when npm fails.
 *
 * npm runs the package's scripts on install, `prepare` among them, which rebuilds dist/ in place
 * while other test files may be loading it. Tests that need the installed commands but are not
 * about the install itself pass `{ scripts: false }` (`--ignore-scripts`): the same links, made
 * from the dist/ that `npm test` has just built. The literal README command keeps its scripts.
 */
export async function installBurrow(
  scope: Scope,
  opts: { scripts?: boolean } = {},
): Promise<Install> {
  const prefix = await tmpDir(scope, 'burrow-install-');
  const env = npmGlobalEnv(prefix);
  const args = ['install', '-g', ...(opts.scripts === false ? ['--ignore-scripts'] : []), '.'];
  const r = await runCommand(scope, 'npm', args, {
    cwd: REPO_ROOT,
    env,
    timeoutMs: 120_000,
  });
  if (r.code !== 0) {
    throw new Error(`npm install -g . failed (${r.code}):\n${r.stdout}${r.stderr}`);
  }
  return installedIn(prefix);
}

/**
 * The environment for `npm install -g` into `prefix`: npm_* variables inherited from an
 * `npm test` run dropped, so only that prefix applies; and the CA bundle `npm test` keeps from
 * the test processes (scripts/test.mjs) given back, since npm may fetch from the registry
 * through a proxy that bundle trusts (what it has not cached: on a fresh machine, every package's
 * metadata for a tarball install).
 */
export function npmGlobalEnv(prefix: string): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const key of Object.keys(process.env)) if (/^npm_/i.test(key)) env[key] = undefined;
  env.NPM_CONFIG_PREFIX = prefix;
  const bundle = process.env.BURROW_TEST_NODE_EXTRA_CA_CERTS;
  if (bundle) env.NODE_EXTRA_CA_CERTS = bundle;
  return env;
}

/** The Install whose global prefix is `prefix`. */
export function installedIn(prefix: string): Install {
  const bin = join(prefix, 'bin');
  return { prefix, bin, path: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` };
}
