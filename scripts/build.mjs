#!/usr/bin/env node
/**
 * The project's build (`npm run build`; also run by `npm test`, `npm run bench`, `npm run fuzz`
 * and `npm run soak` before they start). Steps:
 *
 *   1. tsc -p tsconfig.json: type-check, and emit every module into dist/
 *   2. chmod +x the scripts of package.json `bin` (burrow, burrow-shim, otssh)
 *   3. dist/src/cli/shim-command.js (what `burrow shim` and `burrow-shim` load) replaced by itself
 *      bundled with every module it imports (esbuild, one ESM file, nothing minified): each end of
 *      a shim transfer is a Node process started for that one connection, and the serving end
 *      spent about 15 ms of its start loading the shim's 30 modules one by one before it could
 *      start the command (see BENCHMARKS.md, shim).
 *      tsc writes every module again on each run, so a build that stops after step 1 leaves the
 *      modules as tsc made them, never a bundle older than them.
 *
 * Every file lands in dist/ by rename(2): tsc emits into a fresh directory beside dist/ (the same
 * depth, so its source maps point at the same sources) and each file is then renamed into
 * place, and the bundle is written beside its module and renamed over it. A process that loads
 * dist/ while it is rebuilt (a relay started during `npm install -g .`, whose `prepare` builds)
 * reads each file whole, old or new, never half written.
 *
 * Usage: node scripts/build.mjs (or npm run build). Exit status: 0, or the failed step's; each
 * failure says which; 2 for an argument (it takes none but --help).
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(root, 'dist', 'src', 'cli');

/** The compiled scripts behind package.json `bin`: burrow, burrow-shim, otssh. */
const BIN_SCRIPTS = ['main.js', 'shim-main.js', 'otssh-main.js'];

/** The compiled module bundled in place (step 3). */
const SHIM_BUNDLE = join(CLI, 'shim-command.js');

/** Runs the three steps; resolves to 0 or the failed step's status, having printed why. */
export async function build({ log = (line) => process.stderr.write(`${line}\n`) } = {}) {
  const tsc = join(root, 'node_modules', '.bin', 'tsc');
  const staging = join(root, `.dist-build-${process.pid}`);
  const tscArgs = ['-p', 'tsconfig.json', '--outDir', staging];
  const [cmd, args] = existsSync(tsc) ? [tsc, tscArgs] : ['npx', ['tsc', ...tscArgs]];
  try {
    const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) {
      log(`build: tsc failed (exit ${r.status ?? r.signal})`);
      return r.status || 1;
    }
    // Executable before they land: an installed `burrow` is a link to dist/src/cli/main.js.
    for (const name of BIN_SCRIPTS) {
      const file = join(staging, 'src', 'cli', name);
      if (existsSync(file)) chmodSync(file, 0o755);
    }
    moveInto(staging, join(root, 'dist'));
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    log('build: esbuild is not installed: run npm ci');
    return 1;
  }
  try {
    const bundled = await esbuild.build({
      entryPoints: [SHIM_BUNDLE],
      outfile: SHIM_BUNDLE,
      write: false,
      bundle: true,
      // Node's own modules and the packages stay imports; only the project's modules are inlined.
      packages: 'external',
      platform: 'node',
      format: 'esm',
      target: 'node20',
      // Maps to the TypeScript sources through tsc's maps, for --enable-source-maps.
      sourcemap: true,
      logLevel: 'silent',
    });
    for (const file of bundled.outputFiles) replaceFile(file.path, file.contents);
  } catch (err) {
    const errors = err.errors?.map((e) => `${e.location?.file ?? ''}: ${e.text}`).join('; ');
    log(`build: bundling ${SHIM_BUNDLE} failed: ${errors ?? err.message}`);
    return 1;
  }
  return 0;
}

/** Renames every file under `from` to the same place under `to` (creating directories). */
function moveInto(from, to) {
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const src = join(from, entry.name);
    const dst = join(to, entry.name);
    if (entry.isDirectory()) {
      mkdirSync(dst, { recursive: true });
      moveInto(src, dst);
    } else {
      renameSync(src, dst);
    }
  }
}

/** Writes `contents` beside `path` and renames it over `path`. */
function replaceFile(path, contents) {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, contents);
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  if (args.length === 1 && (args[0] === '--help' || args[0] === '-h')) {
    process.stdout.write(
      'usage: node scripts/build.mjs   (npm run build)\n\n' +
        'tsc -p tsconfig.json into dist/, chmod +x the package.json bin scripts, and\n' +
        "dist/src/cli/shim-command.js bundled in place with the shim's modules (esbuild).\n",
    );
  } else if (args.length > 0) {
    process.stderr.write(`build: unknown argument ${JSON.stringify(args[0])} (it takes none)\n`);
    process.exitCode = 2;
  } else {
    process.exitCode = await build();
  }
}
