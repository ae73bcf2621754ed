/**
 * A Node runtime from the npm registry (the `node-linux-<arch>` packages), verified against a
 * pinned integrity and cached in `$XDG_CACHE_HOME/burrow/node-v<version>-linux-<arch>` (default
 * `~/.cache`): scripts/build-binary.mjs makes the single executables of the x64 one, and the
 * arm64 test runs the shim's remote end on the arm64 one under qemu.
 *
 * Contract of `nodeRuntime`: resolves with the path of `bin/node` in the cache once its version
 * is the pinned one (checked with `versionOf`, which runs it); otherwise downloads the package
 * with `npm pack`, refuses a tarball whose sha512 is not `integrity`, extracts `bin/node` (and
 * `include/node` with `headers`), checks the version, and moves them into the cache. Throws
 * RuntimeError with one line. The caller holds the cache lock (cache-lock.mjs). Plain ESM.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export class RuntimeError extends Error {}

/** Where `node-linux-<arch>@<version>` is cached. */
export function runtimeDir(version, arch) {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'burrow', `node-v${version}-linux-${arch}`);
}

async function sha512Integrity(file) {
  const hash = createHash('sha512');
  for await (const chunk of createReadStream(file)) hash.update(chunk);
  return `sha512-${hash.digest('base64')}`;
}

/** npm as the running npm script uses it (npm_execpath), else the one on PATH. */
function npmCommand(args) {
  const execPath = process.env.npm_execpath;
  return execPath?.endsWith('.js') ? [process.execPath, [execPath, ...args]] : ['npm', args];
}

/** The environment for running a downloaded Node: without NODE_OPTIONS meant for this one. */
export function runtimeEnv() {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return env;
}

/** `node --version` of a runnable Node binary, or undefined. */
export function nativeVersionOf(nodeBin) {
  try {
    return execFileSync(nodeBin, ['--version'], { encoding: 'utf8', env: runtimeEnv() }).trim();
  } catch {
    return undefined;
  }
}

/**
 * @param {{ arch: string, version: string, integrity: string, headers?: boolean,
 *   versionOf?: (bin: string) => string | undefined, log?: (line: string) => void }} o
 * @returns {Promise<string>} the path of bin/node
 */
export async function nodeRuntime(o) {
  const { arch, version, integrity } = o;
  const versionOf = o.versionOf ?? nativeVersionOf;
  const log = o.log ?? (() => {});
  const dir = runtimeDir(version, arch);
  const nodeBin = join(dir, 'node');
  const headers = join(dir, 'include', 'node', 'node_version.h');
  if (
    existsSync(nodeBin) &&
    (!o.headers || existsSync(headers)) &&
    versionOf(nodeBin) === `v${version}`
  ) {
    log(`Node ${version} (${arch}) runtime: cached in ${dir}`);
    return nodeBin;
  }
  try {
    await mkdir(dirname(dir), { recursive: true });
  } catch (err) {
    throw new RuntimeError(`cannot create the cache directory ${dirname(dir)}: ${err.message}`);
  }
  const work = await mkdtemp(join(dirname(dir), '.download-'));
  try {
    const spec = `node-linux-${arch}@${version}`;
    log(`Node ${version} (${arch}) runtime: npm pack ${spec} (once)`);
    const [cmd, args] = npmCommand(['pack', spec, '--json', '--pack-destination', work]);
    const packed = spawnSync(cmd, args, { cwd: work, encoding: 'utf8' });
    if (packed.error || packed.status !== 0) {
      throw new RuntimeError(
        `npm pack ${spec} failed: ${packed.error?.message ?? packed.stderr.trim().split('\n').slice(-5).join('\n')}`,
      );
    }
    let filename;
    try {
      filename = JSON.parse(packed.stdout)[0].filename;
    } catch {
      throw new RuntimeError(`npm pack ${spec}: unexpected output: ${packed.stdout.slice(0, 200)}`);
    }
    const tarball = join(work, filename);
    const got = await sha512Integrity(tarball);
    if (got !== integrity) {
      throw new RuntimeError(
        `${spec}: the tarball's integrity ${got} is not the pinned ${integrity}; refusing to use it`,
      );
    }
    const members = ['package/bin/node', ...(o.headers ? ['package/include/node'] : [])];
    const tar = spawnSync('tar', ['-xzf', tarball, '-C', work, ...members], { encoding: 'utf8' });
    if (tar.error || tar.status !== 0) {
      throw new RuntimeError(
        `cannot extract ${members.join(' and ')} from ${filename}: ${tar.error?.message ?? tar.stderr.trim()}`,
      );
    }
    const extracted = join(work, 'package', 'bin', 'node');
    await chmod(extracted, 0o755);
    const reported = versionOf(extracted);
    if (reported !== `v${version}`) {
      throw new RuntimeError(`${spec}: bin/node reports ${reported ?? 'nothing'}, not v${version}`);
    }
    await mkdir(dir, { recursive: true });
    if (o.headers) {
      await rm(join(dir, 'include'), { recursive: true, force: true });
      await rename(join(work, 'package', 'include'), join(dir, 'include'));
    }
    await rename(extracted, nodeBin);
    log(`Node ${version} (${arch}) runtime: verified and cached in ${dir}`);
    return nodeBin;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
