/**
 * Bulk throughput through each hop: `head -c BYTES /dev/zero | ssh … root@dev 'wc -c'`, timed
 * from start to exit (handshakes included, the same for every form), with the hop's CPU read
 * from /proc before and after: the relay process for burrow, the jumphost sshd's whole process
 * tree for OpenSSH (the listener plus the per-connection processes, reaped or live).
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { runCommand, type Scope, waitFor } from '../../test/helpers/index.js';
import { cpuSeconds, treeCpuSeconds, treeSize } from '../lib/procfs.js';
import { median, rotate } from '../lib/stats.js';
import { type Form, HOP_FORMS, type World } from './world.js';

export interface TransferSample {
  form: Form;
  round: number;
  seconds: number;
  mibPerSec: number;
  /** CPU seconds the hop (relay process / jumphost sshd tree) used during the transfer. */
  hopCpuSeconds: number;
  hopCpuSecondsPerGiB: number;
}

export interface ThroughputForm {
  form: Form;
  medianMiBps: number;
  medianSeconds: number;
  medianHopCpuSecondsPerGiB: number;
  /** burrow's median throughput divided by this form's (1 for burrow itself). */
  burrowRatio: number;
}

export interface ThroughputResult {
  bytes: number;
  rounds: number;
  samples: TransferSample[];
  forms: ThroughputForm[];
}

function hopCpu(world: World, form: Form): number {
  if (form === 'burrow') return cpuSeconds(world.relay.pid) ?? Number.NaN;
  return treeCpuSeconds(world.jump.proc.pid);
}

export async function measureThroughput(
  scope: Scope,
  world: World,
  opts: { bytes: number; rounds: number; log: (msg: string) => void },
): Promise<ThroughputResult> {
  const { bytes, rounds, log } = opts;
  const gib = bytes / 2 ** 30;
  // Bounded: even a machine 50x slower than expected finishes, and a hang does not last forever.
  const timeoutMs = Math.max(120_000, (bytes / (2 * 2 ** 20)) * 1000);
  const samples: TransferSample[] = [];
  const jumpProcs = treeSize(world.jump.proc.pid);

  // One small warm-up transfer per form, not recorded: first-use costs (page cache, JIT).
  for (const form of HOP_FORMS) await transfer(scope, world, form, 16 * 2 ** 20, 60_000);

  for (let round = 0; round < rounds; round++) {
    for (const form of rotate(HOP_FORMS, round)) {
      const cpu0 = hopCpu(world, form);
      const seconds = await transfer(scope, world, form, bytes, timeoutMs);
      if (form !== 'burrow') {
        // The connection's sshd processes exit after ssh does; wait until they have been reaped
        // so their CPU is in the listener's cutime (bounded: a straggler just costs accuracy).
        await waitFor(() => treeSize(world.jump.proc.pid) <= jumpProcs, {
          what: 'the jumphost connection processes to exit',
          timeoutMs: 5000,
        }).catch(() => {});
      } else {
        await sleep(50);
      }
      const hopCpuSeconds = hopCpu(world, form) - cpu0;
      const sample: TransferSample = {
        form,
        round: round + 1,
        seconds,
        mibPerSec: bytes / 2 ** 20 / seconds,
        hopCpuSeconds,
        hopCpuSecondsPerGiB: hopCpuSeconds / gib,
      };
      samples.push(sample);
      log(
        `throughput round ${round + 1}/${rounds} ${form}: ${sample.mibPerSec.toFixed(0)} MiB/s, ` +
          `hop CPU ${sample.hopCpuSecondsPerGiB.toFixed(2)} s/GiB`,
      );
    }
  }

  const of = (form: Form) => samples.filter((s) => s.form === form);
  const burrowMedian = median(of('burrow').map((s) => s.mibPerSec));
  return {
    bytes,
    rounds,
    samples,
    forms: HOP_FORMS.map((form) => {
      const m = median(of(form).map((s) => s.mibPerSec));
      return {
        form,
        medianMiBps: m,
        medianSeconds: median(of(form).map((s) => s.seconds)),
        medianHopCpuSecondsPerGiB: median(of(form).map((s) => s.hopCpuSecondsPerGiB)),
        burrowRatio: burrowMedian / m,
      };
    }),
  };
}

/** Sends `bytes` zeros to the device through `form`; returns the wall time in seconds. */
async function transfer(
  scope: Scope,
  world: World,
  form: Form,
  bytes: number,
  timeoutMs: number,
): Promise<number> {
  const script = `set -o pipefail; head -c ${bytes} /dev/zero | ${world.sshCommand(form, 'wc -c')}`;
  const t0 = performance.now();
  const r = await runCommand(scope, 'bash', ['-c', script], { timeoutMs });
  const seconds = (performance.now() - t0) / 1000;
  if (r.timedOut)
    throw new Error(`${form}: transfer of ${bytes} bytes timed out (${timeoutMs} ms)`);
  if (r.code !== 0 || r.stdout.trim() !== String(bytes)) {
    throw new Error(
      `${form}: transfer failed (exit ${r.code}, device counted ${r.stdout.trim() || 'nothing'} ` +
        `of ${bytes} bytes):\n${r.stderr}`,
    );
  }
  return seconds;
}
