/**
 * Entering through a relay that does not hold the name: `ssh -J B dev1` with dev1 held on A
 * (B carries the connection over its peer link to A), against entering through A itself
 * (latency) and against OpenSSH's two-hop jump `ssh -J r1,r2` through two sshd jumphosts, the
 * device's tunnel on r2 (throughput). Every form is interleaved round by round.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createSshClient,
  freePort,
  runCommand,
  type Scope,
  type Sshd,
  startSshd,
  waitFor,
  waitForPort,
} from '../../test/helpers/index.js';
import { cpuSeconds, treeCpuSeconds, treeSize } from '../lib/procfs.js';
import { max, median, min, percentile, rotate } from '../lib/stats.js';
import type { Cluster } from './world.js';

/** What a reverse jumphost needs; everything else is OpenSSH's defaults. */
const JUMPHOST_CONFIG = ['AllowTcpForwarding yes', 'GatewayPorts no', 'LogLevel INFO'];

/** Starts the device's agent on relay1 (A) only and waits until relay2 (B) reaches dev1. */
export async function holdOnA(cluster: Cluster): Promise<void> {
  const [a, b] = cluster.relays as [Cluster['relays'][0], Cluster['relays'][0]];
  const agent = cluster.startAgent([a], { statusFile: `${cluster.dir}/agent-hold-a.json` });
  await agent.waitForLine(/registered on/, { stream: 'stderr', timeoutMs: 20_000 });
  await waitFor(
    async () =>
      (await cluster.op.run(['-J', b.alias, 'dev1', 'true'], { timeoutMs: 10_000 })).code === 0,
    { what: 'dev1 (on relay A) reachable through relay B', timeoutMs: 20_000, intervalMs: 200 },
  );
}

export interface LatencyPath {
  path: 'via-b' | 'via-a';
  runs: number;
  p50Ms: number;
  p95Ms: number;
  minMs: number;
  maxMs: number;
}

export interface ClusterLatencyResult {
  runs: number;
  warmup: number;
  paths: LatencyPath[];
  /** p50 through B minus p50 through A. */
  addedP50Ms: number;
  samplesMs: Record<string, number[]>;
}

export async function measureClusterLatency(
  cluster: Cluster,
  opts: { runs: number; warmup?: number; log: (msg: string) => void },
): Promise<ClusterLatencyResult> {
  const { runs, warmup = 3, log } = opts;
  const via = { 'via-a': cluster.relays[0]!.alias, 'via-b': cluster.relays[1]!.alias } as const;
  const paths = ['via-b', 'via-a'] as const;
  const samples: Record<string, number[]> = { 'via-a': [], 'via-b': [] };
  for (let i = 0; i < warmup + runs; i++) {
    for (const path of rotate(paths, i)) {
      const t0 = performance.now();
      const r = await cluster.op.run(['-J', via[path], 'dev1', 'true'], { timeoutMs: 30_000 });
      const ms = performance.now() - t0;
      if (r.code !== 0)
        throw new Error(`${path}: ssh -J … dev1 true failed (exit ${r.code}):\n${r.stderr}`);
      if (i >= warmup) samples[path]!.push(Math.round(ms * 10) / 10);
    }
    if (i >= warmup && (i + 1 - warmup) % 10 === 0)
      log(`latency: ${i + 1 - warmup}/${runs} rounds`);
  }
  const stat = (path: LatencyPath['path']): LatencyPath => {
    const v = samples[path]!;
    return {
      path,
      runs: v.length,
      p50Ms: median(v),
      p95Ms: percentile(v, 95),
      minMs: min(v),
      maxMs: max(v),
    };
  };
  const out = paths.map(stat);
  return {
    runs,
    warmup,
    paths: out,
    addedP50Ms: out[0]!.p50Ms - out[1]!.p50Ms,
    samplesMs: samples,
  };
}

export type TransferForm = 'via-b' | 'via-a' | 'openssh-2hop';

export interface TransferSample {
  form: TransferForm;
  round: number;
  seconds: number;
  mibPerSec: number;
  /** CPU-s per GiB of each hop: [first hop, second hop] (B, A; or r1, r2; via-a: A only). */
  hopCpuSecondsPerGiB: number[];
}

export interface ClusterThroughputForm {
  form: TransferForm;
  medianMiBps: number;
  /** Median CPU-s per GiB of each hop, first hop first. */
  medianHopCpuSecondsPerGiB: number[];
}

export interface ClusterThroughputResult {
  bytes: number;
  rounds: number;
  forms: ClusterThroughputForm[];
  /** via-b's median MiB/s over the OpenSSH two-hop jump's. */
  ratio: number;
  samples: TransferSample[];
}

interface TwoHop {
  r1: Sshd;
  r2: Sshd;
}

/** Two OpenSSH jumphosts; the device's `ssh -N -R` tunnel sits on r2; alias `dev-2hop`. */
async function startTwoHop(scope: Scope, cluster: Cluster): Promise<TwoHop> {
  const r1 = await startSshd(scope, {
    name: 'jump1-sshd',
    authorizedKeys: [cluster.opKey],
    extraConfig: JUMPHOST_CONFIG,
  });
  const r2 = await startSshd(scope, {
    name: 'jump2-sshd',
    authorizedKeys: [cluster.opKey, cluster.devKey],
    extraConfig: JUMPHOST_CONFIG,
  });
  const tunnelPort = await freePort();
  const dev = await createSshClient(scope, { identity: cluster.devKey });
  dev.addHost({ alias: 'jump2', port: r2.port, user: 'root', hostKey: r2.hostKeyPub });
  const tunnel = dev.spawn(
    [
      '-N',
      '-o',
      'ExitOnForwardFailure=yes',
      '-R',
      `127.0.0.1:${tunnelPort}:127.0.0.1:${cluster.device.port}`,
      'jump2',
    ],
    { name: 'device -R jump2' },
  );
  await waitForPort(tunnelPort, {
    banner: /^SSH-2\.0-OpenSSH/,
    timeoutMs: 15_000,
    what: `the device tunnel on jump2 (${tunnel.name})`,
  });
  const op = cluster.op;
  op.addHost({ alias: 'jump1', port: r1.port, user: 'root', hostKey: r1.hostKeyPub });
  op.addHost({ alias: 'jump2', port: r2.port, user: 'root', hostKey: r2.hostKeyPub });
  op.addHost({
    alias: 'dev-2hop',
    port: tunnelPort,
    user: 'root',
    hostKeyAlias: 'dev1',
    proxyJump: 'jump1,jump2',
  });
  return { r1, r2 };
}

const HOST: Record<TransferForm, (c: Cluster) => string[]> = {
  'via-b': (c) => ['-J', c.relays[1]!.alias, 'dev1'],
  'via-a': (c) => ['-J', c.relays[0]!.alias, 'dev1'],
  'openssh-2hop': () => ['dev-2hop'],
};

export async function measureClusterThroughput(
  scope: Scope,
  cluster: Cluster,
  opts: { bytes: number; rounds: number; log: (msg: string) => void },
): Promise<ClusterThroughputResult> {
  const { bytes, rounds, log } = opts;
  const two = await startTwoHop(scope, cluster);
  const [a, b] = [cluster.relays[0]!, cluster.relays[1]!];
  const gib = bytes / 2 ** 30;
  const timeoutMs = Math.max(120_000, (bytes / (2 * 2 ** 20)) * 1000);
  const hops = (form: TransferForm): number[] =>
    form === 'openssh-2hop'
      ? [treeCpuSeconds(two.r1.proc.pid), treeCpuSeconds(two.r2.proc.pid)]
      : form === 'via-b'
        ? [cpuSeconds(b.proc!.pid) ?? Number.NaN, cpuSeconds(a.proc!.pid) ?? Number.NaN]
        : [cpuSeconds(a.proc!.pid) ?? Number.NaN];
  const forms: TransferForm[] = ['via-b', 'openssh-2hop', 'via-a'];
  const sizes = [treeSize(two.r1.proc.pid), treeSize(two.r2.proc.pid)];
  for (const form of forms) await transfer(scope, cluster, form, 16 * 2 ** 20, 60_000);
  const samples: TransferSample[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const form of rotate(forms, round)) {
      const cpu0 = hops(form);
      const seconds = await transfer(scope, cluster, form, bytes, timeoutMs);
      if (form === 'openssh-2hop') {
        // Per-connection sshd processes are reaped into the listener's cutime once they exit.
        await waitFor(
          () => treeSize(two.r1.proc.pid) <= sizes[0]! && treeSize(two.r2.proc.pid) <= sizes[1]!,
          { what: 'the jumphost connection processes to exit', timeoutMs: 5000 },
        ).catch(() => {});
      } else {
        await sleep(50);
      }
      const cpu1 = hops(form);
      const s: TransferSample = {
        form,
        round: round + 1,
        seconds,
        mibPerSec: bytes / 2 ** 20 / seconds,
        hopCpuSecondsPerGiB: cpu1.map((c, i) => (c - cpu0[i]!) / gib),
      };
      samples.push(s);
      log(
        `throughput ${round + 1}/${rounds} ${form}: ${s.mibPerSec.toFixed(0)} MiB/s, hop CPU ` +
          `${s.hopCpuSecondsPerGiB.map((x) => x.toFixed(2)).join(' + ')} s/GiB`,
      );
    }
  }
  const out = forms.map((form): ClusterThroughputForm => {
    const of = samples.filter((s) => s.form === form);
    return {
      form,
      medianMiBps: median(of.map((s) => s.mibPerSec)),
      medianHopCpuSecondsPerGiB: of[0]!.hopCpuSecondsPerGiB.map((_, i) =>
        median(of.map((s) => s.hopCpuSecondsPerGiB[i]!)),
      ),
    };
  });
  const m = (f: TransferForm) => out.find((x) => x.form === f)!.medianMiBps;
  return { bytes, rounds, forms: out, ratio: m('via-b') / m('openssh-2hop'), samples };
}

async function transfer(
  scope: Scope,
  cluster: Cluster,
  form: TransferForm,
  bytes: number,
  timeoutMs: number,
): Promise<number> {
  const ssh = ['ssh', '-F', cluster.op.configPath, ...HOST[form](cluster), 'wc -c']
    .map((a) => `'${a}'`)
    .join(' ');
  const script = `set -o pipefail; head -c ${bytes} /dev/zero | ${ssh}`;
  const t0 = performance.now();
  const r = await runCommand(scope, 'bash', ['-c', script], { timeoutMs });
  const seconds = (performance.now() - t0) / 1000;
  if (r.timedOut) throw new Error(`${form}: transfer of ${bytes} bytes timed out`);
  if (r.code !== 0 || r.stdout.trim() !== String(bytes)) {
    throw new Error(
      `${form}: transfer failed (exit ${r.code}, device counted ${r.stdout.trim() || 'nothing'} of ${bytes}):\n${r.stderr}`,
    );
  }
  return seconds;
}
