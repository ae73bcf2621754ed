/**
 * The single executable's AES-GCM: ssh2's native binding (sshcrypto.node, built for the
 * executable's Node and embedded by scripts/build-binary.mjs) when it loads, node:crypto when it
 * does not. A relay started from the executable says which in its `relay listening` line
 * (`aesGcm`), and carries `ssh -J` traffic with aes128-gcm@openssh.com either way: the embedded
 * binding; a copy of the executable whose embedded binding has one byte changed (its sha256 check
 * fails: node:crypto, and a debug line says why); an executable built with --without-sshcrypto.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BINARIES, ensureBinaries } from './helpers/binaries.js';
import {
  createSshClient,
  generateKey,
  publicKeyOf,
  runCommand,
  type Scope,
  startProc,
  startSshd,
  tmpDir,
  withScope,
} from './helpers/index.js';
import { relayCliArgs } from './helpers/relay.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUILD_TIMEOUT_MS = 600_000;
const CIPHER = 'aes128-gcm@openssh.com';
/** Enough for many full-size packets each way; small enough for a quick test. */
const PAYLOAD_BYTES = 8 * 2 ** 20;

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The sshcrypto.node build-binary.mjs cached and embedded, found by its bytes in `binary`. */
function embeddedBinding(binary: Buffer): { offset: number; length: number } {
  const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'burrow');
  for (const runtime of existsSync(cache) ? readdirSync(cache) : []) {
    for (const file of readdirSync(join(cache, runtime))) {
      if (!/^sshcrypto-.*\.node$/.test(file)) continue;
      const bytes = readFileSync(join(cache, runtime, file));
      const offset = binary.indexOf(bytes);
      if (offset >= 0) return { offset, length: bytes.length };
    }
  }
  throw new Error(`no cached sshcrypto.node is embedded in the executable (cache: ${cache})`);
}

interface Outcome {
  aesGcm: string;
  /** The relay's stderr (JSON log lines). */
  log: string;
  /** What the ssh client logged about the relay hop's cipher (-v). */
  cipherLines: string[];
}

/**
 * Starts `binary relay` (debug log), registers dev1 from a real `ssh -N -R` forwarding to a real
 * sshd, and sends PAYLOAD_BYTES through `ssh -J relay dev1 sha256sum` with only CIPHER allowed;
 * asserts the digest that comes back.
 */
async function relayCarries(s: Scope, binary: string): Promise<Outcome> {
  const dir = await tmpDir(s, 'burrow-aes-gcm-');
  const runtimeDir = join(dir, 'run');
  const devKey = await generateKey(dir, 'device');
  const opKey = await generateKey(dir, 'operator');
  const sshd = await startSshd(s, { authorizedKeys: [opKey] });
  writeFileSync(
    join(dir, 'authorized_keys'),
    `permitlisten="dev1:22" ${devKey.publicLine}\npermitopen="*:22" ${opKey.publicLine}\n`,
  );
  mkdirSync(runtimeDir, { mode: 0o700 });
  const env = { XDG_RUNTIME_DIR: runtimeDir };
  const relay = startProc(s, binary, [...relayCliArgs(dir), '--log-level', 'debug'], {
    name: 'relay (executable)',
    env,
  });
  const listening = await relay.waitForLine(/"listen":"127\.0\.0\.1:(\d+)".*relay listening/, {
    stream: 'stderr',
  });
  assert.deepEqual(readdirSync(runtimeDir), [], 'the extracted binding and its dir are removed');
  const line = JSON.parse(listening.input!) as { aesGcm: string };
  const port = Number(listening[1]);
  const hostKeyPub = publicKeyOf(join(dir, 'host_key'));

  const client = async (identity: typeof devKey) => {
    const c = await createSshClient(s, { identity, options: { Ciphers: CIPHER } });
    c.addHost({ alias: 'relay', port, user: 'burrow', hostKey: hostKeyPub });
    return c;
  };
  const device = await client(devKey);
  const mark = relay.mark();
  device.spawn(['-N', '-R', `dev1:22:127.0.0.1:${sshd.port}`, 'relay'], { name: 'device' });
  await relay.waitForLine(/"event":"name.registered".*"name":"dev1"/, { from: mark });

  const op = await client(opKey);
  op.addHost({ alias: 'dev1', hostName: null, user: 'root', proxyJump: 'relay' });
  op.trust('dev1', sshd.hostKeyPub);
  const payload = randomBytes(PAYLOAD_BYTES);
  const r = await op.run(['-v', 'dev1', 'sha256sum'], { input: payload, timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr.split('\n').slice(-10).join('\n'));
  assert.equal(r.stdout.split(' ')[0], sha256(payload), 'the bytes arrived unchanged');
  const cipherLines = r.stderr.split('\n').filter((l) => /kex: \S+ cipher: /.test(l));
  return { aesGcm: line.aesGcm, log: relay.output('stderr'), cipherLines };
}

function assertAes128Gcm(outcome: Outcome): void {
  // Both hops (ProxyJump's `ssh -W` to the relay, then ssh to dev1 through it), both directions.
  assert.equal(outcome.cipherLines.length, 4, outcome.cipherLines.join('\n'));
  for (const l of outcome.cipherLines) assert.match(l, new RegExp(`cipher: ${CIPHER} `));
}

describe('the single executable: AES-GCM', { timeout: BUILD_TIMEOUT_MS }, () => {
  it('uses the embedded sshcrypto.node: a relay from it carries ssh -J with aes128-gcm', (t) =>
    withScope(t, async (s) => {
      await ensureBinaries();
      const outcome = await relayCarries(s, BINARIES.burrow);
      assert.equal(outcome.aesGcm, 'sshcrypto.node', outcome.log);
      assertAes128Gcm(outcome);
    }));

  it('falls back to node:crypto, with a debug line, when the embedded binding is corrupted', (t) =>
    withScope(t, async (s) => {
      await ensureBinaries();
      const dir = await tmpDir(s, 'burrow-corrupt-');
      const bytes = readFileSync(BINARIES.burrow);
      const { offset, length } = embeddedBinding(bytes);
      bytes[offset + Math.floor(length / 2)]! ^= 0xff;
      const corrupted = join(dir, 'burrow');
      writeFileSync(corrupted, bytes, { mode: 0o755 });
      const outcome = await relayCarries(s, corrupted);
      assert.equal(outcome.aesGcm, 'node:crypto', outcome.log);
      assert.match(
        outcome.log,
        /"level":20,.*"aesGcm":"node:crypto","reason":"the embedded sshcrypto.node fails its sha256 check"/,
      );
      assertAes128Gcm(outcome);
    }));

  it('built with --without-sshcrypto: node:crypto, said once at build time', (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s, 'burrow-nobinding-');
      const output = join(dir, 'burrow');
      const built = await runCommand(
        s,
        process.execPath,
        [
          join(ROOT, 'scripts', 'build-binary.mjs'),
          '--entry',
          'src/cli/main.ts',
          '--output',
          output,
          '--without-sshcrypto',
        ],
        { cwd: ROOT, timeoutMs: BUILD_TIMEOUT_MS },
      );
      assert.equal(built.code, 0, `${built.stdout}${built.stderr}`);
      const said = built.stdout.split('\n').filter((l) => /node:crypto/.test(l));
      assert.deepEqual(said, [
        'build-binary: --without-sshcrypto: the executables use node:crypto for AES-GCM',
      ]);
      const outcome = await relayCarries(s, output);
      assert.equal(outcome.aesGcm, 'node:crypto', outcome.log);
      assertAes128Gcm(outcome);
    }));
});
