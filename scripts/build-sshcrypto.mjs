/**
 * Step 1b of scripts/build-binary.mjs: ssh2's optional AES-GCM/ChaCha binding, sshcrypto.node,
 * built again from ssh2's (patched) source for the single executables' Node with node-gyp (npm's
 * own copy) and the runtime's headers, offline; proved by loading it in that runtime; cached
 * beside the runtime, keyed by the binding's source. Plain ESM.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { copyFile, cp, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** node-gyp as npm runs it for install scripts: npm's own copy (npm ships it). */
function nodeGypScript() {
  if (process.env.npm_config_node_gyp) return process.env.npm_config_node_gyp;
  const candidates = [];
  if (process.env.npm_execpath) candidates.push(dirname(process.env.npm_execpath));
  const npmOnPath = spawnSync('/bin/sh', ['-c', 'command -v npm'], { encoding: 'utf8' });
  if (npmOnPath.status === 0) candidates.push(dirname(realpathSync(npmOnPath.stdout.trim())));
  for (const bin of candidates) {
    const script = join(bin, '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    if (existsSync(script)) return script;
  }
  return undefined;
}

/**
 * Step 1b: `{ path, sha256 }` of sshcrypto.node built for the runtime, or undefined after one line
 * saying why the executables use node:crypto. Cached beside the runtime, keyed by the source.
 */
export async function sshcryptoBinding({ nodeBin, nodeVersion, nodedir, runtimeEnv, root, log }) {
  const SSHCRYPTO_SOURCE = join(root, 'node_modules', 'ssh2', 'lib', 'protocol', 'crypto');
  const without = (why) => {
    log(`${why}: the executables use node:crypto for AES-GCM`);
    return undefined;
  };
  // Built from source whether or not `npm ci` could build it for the system Node (that build
  // needs the system Node's headers; this one the runtime's, which are cached).
  if (!existsSync(join(SSHCRYPTO_SOURCE, 'binding.gyp'))) {
    return without("ssh2's binding source (lib/protocol/crypto/binding.gyp) is missing");
  }
  const source = createHash('sha256');
  for (const file of ['binding.gyp', join('src', 'binding.cc')]) {
    source.update(readFileSync(join(SSHCRYPTO_SOURCE, file)));
  }
  const cached = join(nodedir, `sshcrypto-${source.digest('hex').slice(0, 16)}.node`);
  if (!existsSync(cached)) {
    const gyp = nodeGypScript();
    if (!gyp) return without('node-gyp (shipped with npm) was not found');
    const work = await mkdtemp(join(tmpdir(), 'burrow-sshcrypto-'));
    try {
      await cp(SSHCRYPTO_SOURCE, work, {
        recursive: true,
        filter: (src) => !src.startsWith(join(SSHCRYPTO_SOURCE, 'build')),
      });
      const opensslMajor = execFileSync(nodeBin, ['-p', 'process.versions.openssl'], {
        encoding: 'utf8',
        env: runtimeEnv,
      }).split('.')[0];
      const args = [
        gyp,
        'rebuild',
        `--nodedir=${nodedir}`,
        `--target=${nodeVersion}`,
        `--real_openssl_major=${opensslMajor}`,
      ];
      // binding.gyp finds nan with `node -e "require('nan')"`, from the project's node_modules.
      // Without npm's own settings: under `npm test` or `npm run`, an npm_config_nodedir (say the
      // system Node's headers) would win over --nodedir and build for the wrong ABI.
      const env = Object.fromEntries(
        Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k)),
      );
      env.NODE_PATH = join(root, 'node_modules');
      const built = spawnSync(process.execPath, args, { cwd: work, encoding: 'utf8', env });
      if (built.error || built.status !== 0) {
        const tail = `${built.stderr ?? ''}`.trim().split('\n').slice(-3).join(' / ');
        return without(`building sshcrypto.node for Node ${nodeVersion} failed (${tail})`);
      }
      const output = join(work, 'build', 'Release', 'sshcrypto.node');
      const probe = spawnSync(
        nodeBin,
        ['-e', 'process.dlopen({ exports: {} }, process.argv[1])', output],
        { encoding: 'utf8', env: runtimeEnv },
      );
      if (probe.status !== 0) {
        const first =
          probe.stderr
            .trim()
            .split('\n')
            .find((l) => /Error/.test(l)) ?? '';
        return without(`the sshcrypto.node built does not load in Node ${nodeVersion}: ${first}`);
      }
      await copyFile(output, `${cached}.tmp-${process.pid}`);
      await rename(`${cached}.tmp-${process.pid}`, cached);
      log(`sshcrypto.node: built for Node ${nodeVersion} and cached in ${nodedir}`);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
  const sha256 = createHash('sha256')
    .update(await readFile(cached))
    .digest('hex');
  log(`sshcrypto.node for Node ${nodeVersion} embedded (sha256 ${sha256.slice(0, 16)}…)`);
  return { path: cached, sha256 };
}
