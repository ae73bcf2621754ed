/**
 * The setup every shim measurement shares, owned by one Scope, all on 127.0.0.1: one relay, the
 * device's sshd registered by `burrow agent`, and the operator's ssh config (startShimWorld with
 * its cutting proxy), plus
 * - `dev1-direct`: the same device through the same relay without the proxy (the proxy runs in
 *   this process and would tax both forms), for the fault-free comparison; `dev1` goes through
 *   the proxy, for the runs with cuts;
 * - the `rsync -e` programs: the operator's plain ssh (the baseline), and `burrow shim` with the
 *   same ssh on each byte path (BURROW_SHIM_NATIVE=require, or =0 for JavaScript's, set at both
 *   ends), whose node processes record their CPU at exit (see cpu.ts);
 * - the source file and its sha256, written once per size (withSource).
 */
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { type Scope, tmpDir } from '../../test/helpers/index.js';
import { CLI_PATH } from '../../test/helpers/relay.js';
import { type BytePath, type ShimWorld, startShimWorld } from '../../test/helpers/shim.js';
import { writePreload } from './cpu.js';
import { writeSource } from './source.js';

/** `shim` takes the native byte path (the one the targets judge); `shim-js` JavaScript's. */
export type Form = 'ssh' | 'shim' | 'shim-js';
/** The forms every fault-free run compares; `shim-js` joins them unless --no-javascript. */
export const FORMS: readonly Form[] = ['ssh', 'shim'];
export const FORMS_WITH_JAVASCRIPT: readonly Form[] = ['ssh', 'shim', 'shim-js'];

export const FORM_LABELS: Record<Form, string> = {
  ssh: 'ssh (baseline)',
  shim: 'burrow shim',
  'shim-js': 'burrow shim (JavaScript path)',
};

/** The BURROW_SHIM_NATIVE value both ends of a shim transport run with. */
export const NATIVE_SETTING: Record<BytePath, string> = { native: 'require', javascript: '0' };

/** The device through the proxy (cut runs) and straight to the relay (fault-free runs). */
export const HOSTS = { proxied: 'dev1', direct: 'dev1-direct' } as const;

export interface BenchWorld {
  readonly world: ShimWorld;
  readonly dir: string;
  readonly src: string;
  readonly srcSha256: string;
  readonly bytes: number;
  /** A small file for warm-up transfers (not timed). */
  readonly warmup: string;
  /** `rsync -e` program per form. */
  readonly transport: Record<Form, string>;
  /** Where the shim's node processes leave their CPU records. */
  readonly cpuDir: string;
  /**
   * Writes a `burrow shim` transport whose node processes also run with `nodeOptions`, on
   * `bytePath` at both ends (default native: a shim whose addon does not load fails, never
   * falls back to JavaScript unnoticed).
   */
  shimTransport(name: string, nodeOptions: string[], bytePath?: BytePath): string;
}

const WARMUP_BYTES = 16 * 2 ** 20;

export async function startBenchWorld(
  scope: Scope,
  opts: { bytes: number; log: (msg: string) => void },
): Promise<BenchWorld> {
  const { bytes, log } = opts;
  log('starting the relay, the device sshd, burrow agent and the cutting proxy');
  const world = await startShimWorld(scope, { proxy: true });
  const relay = world.fleet.relays[0]!;
  const op = world.fleet.op;
  op.addHost({
    alias: 'relay1-direct',
    port: relay.port,
    user: 'burrow',
    hostKeyAlias: 'relay1-key',
  });
  op.addHost({
    alias: HOSTS.direct,
    hostName: null,
    user: 'root',
    hostKeyAlias: 'dev1',
    options: {
      ProxyCommand: `ssh -F ${op.configPath} -W dev1:22 relay1-direct`,
      ServerAliveInterval: 2,
      ServerAliveCountMax: 2,
    },
  });

  const dir = await tmpDir(scope, 'burrow-bench-shim-');
  const cpuDir = join(dir, 'cpu');
  mkdirSync(cpuDir, { mode: 0o700 });
  const preload = writePreload(dir, cpuDir);

  // As the world's `burrow shim`, with the preload in every node process of the shim, and the
  // byte path set here at both ends (the remote command starts with it).
  const shimTransport = (name: string, nodeOptions: string[], bytePath: BytePath = 'native') => {
    const node = [`--require=${preload}`, ...nodeOptions].join(' ');
    const native = `BURROW_SHIM_NATIVE=${NATIVE_SETTING[bytePath]}`;
    const remote =
      `${native} NODE_OPTIONS='${node}' BURROW_DATA_DIR=${world.remoteDataDir} ` +
      `${process.execPath} ${CLI_PATH} shim --serve`;
    const path = join(dir, name);
    writeFileSync(
      path,
      `#!/bin/sh
# Node parses all of NODE_EXTRA_CA_CERTS as it starts (45 ms for a system bundle), which some
# machines set and users do not; the remote end never has it (sshd does not pass it on).
unset NODE_EXTRA_CA_CERTS
export BURROW_SHIM_SSH='${world.env.BURROW_SHIM_SSH}'
export BURROW_SHIM_REMOTE="${remote}"
export ${native}
NODE_OPTIONS='${node}' exec ${process.execPath} ${CLI_PATH} shim "$@"
`,
    );
    chmodSync(path, 0o755);
    return path;
  };

  const src = join(dir, 'src.bin');
  log(`writing the ${(bytes / 2 ** 20).toFixed(0)} MiB source file`);
  const srcSha256 = await writeSource(src, bytes);
  const warmup = join(dir, 'warmup.bin');
  await writeSource(warmup, Math.min(bytes, WARMUP_BYTES));
  return {
    world,
    dir,
    src,
    srcSha256,
    bytes,
    warmup,
    transport: {
      ssh: world.ssh,
      shim: shimTransport('transport-shim', [], 'native'),
      'shim-js': shimTransport('transport-shim-js', [], 'javascript'),
    },
    cpuDir,
    shimTransport,
  };
}

/**
 * The same world sending a source of `bytes` bytes: `bw` itself when that is its size, else a
 * new file (written here, its sha256 taken) in place of `bw`'s, which is removed. Use the
 * returned world from then on.
 */
export async function withSource(
  bw: BenchWorld,
  bytes: number,
  log: (msg: string) => void,
): Promise<BenchWorld> {
  if (bytes === bw.bytes) return bw;
  const src = join(bw.dir, `src-${bytes}.bin`);
  rmSync(bw.src, { force: true });
  log(`writing the ${(bytes / 2 ** 20).toFixed(0)} MiB source file`);
  const srcSha256 = await writeSource(src, bytes);
  return { ...bw, src, srcSha256, bytes };
}
