/**
 * Fault-free transfers: `rsync --no-compress SRC dev1-direct:DST` with the operator's ssh, with
 * `burrow shim` on its native byte path and (optionally) with `burrow shim` on JavaScript's as
 * `-e`, alternating (order rotated each round), the destination deleted before every run so each
 * sends the whole file. Timed from spawn to rsync's exit; every copy is checked against the
 * source's sha256.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';

import type { Scope } from '../../test/helpers/index.js';
import { median, rotate } from '../lib/stats.js';
import { clearShimCpu, machineBusySeconds, type ShimCpu, takeShimCpu } from './cpu.js';
import { cpuPerGiB, formOverhead } from './results.js';
import { runRsync, stderrTail } from './rsync.js';
import { sha256 } from './source.js';
import { type BenchWorld, type Form, HOSTS } from './world.js';

export interface RunSample {
  form: Form;
  round: number;
  seconds: number;
  mibPerSec: number;
  /** CPU seconds of the shim's node processes (null for ssh). */
  shimCpu: ShimCpu | null;
  /** CPU seconds the whole machine was busy during the run (both cores, all processes). */
  machineCpuSeconds: number;
}

type RoleMedians = { local: number | null; serve: number | null; holder: number | null };

export interface FormSummary {
  form: Form;
  medianSeconds: number;
  medianMiBps: number;
  medianMachineCpuSeconds: number;
  /** median(this form's seconds) / median(ssh seconds) − 1; 0 for ssh. */
  vsSsh?: number;
  /** A shim form's medians over its runs, CPU seconds per process role; null for ssh. */
  shimCpuMedian?: RoleMedians | null;
  /** median over the runs of (local + holder CPU s), per GiB sent; null for ssh. */
  shimCpuPerGiB?: number | null;
}

/** One size's fault-free runs; the phase's result is one of these per size, in --size order. */
export interface NoFaultResult {
  host: string;
  bytes: number;
  rounds: number;
  samples: RunSample[];
  forms: FormSummary[];
  /** median(shim seconds) / median(ssh seconds) - 1, for `burrow shim` (the native path). */
  overhead: number;
  /** Medians over the native shim's runs, CPU seconds per process role. */
  shimCpuMedian: RoleMedians;
}

export function rsyncArgs(transport: string, src: string, dest: string): string[] {
  return ['--no-compress', '-e', transport, src, dest];
}

/** Bounded: even a machine 50x slower than this one finishes; a hang does not last forever. */
export function transferTimeoutMs(bytes: number): number {
  return Math.max(120_000, (bytes / (2 * 2 ** 20)) * 1000);
}

export async function measureNoFaults(
  scope: Scope,
  bw: BenchWorld,
  opts: { rounds: number; forms: readonly Form[]; log: (msg: string) => void },
): Promise<NoFaultResult> {
  const { rounds, forms, log } = opts;
  const dst = join(bw.dir, 'dst.bin');
  const timeoutMs = transferTimeoutMs(bw.bytes);

  // Not timed: first-use costs (page cache, JIT, the remote's first node start-up).
  for (const form of forms) {
    rmSync(dst, { force: true });
    const run = await runRsync(
      scope,
      rsyncArgs(bw.transport[form], bw.warmup, `${HOSTS.direct}:${dst}`),
      { timeoutMs: 60_000 },
    );
    if (run.code !== 0) {
      throw new Error(`warm-up with ${form} failed (exit ${run.code}):\n${stderrTail(run)}`);
    }
  }
  await takeShimCpu(bw.cpuDir);
  clearShimCpu(bw.cpuDir);

  const samples: RunSample[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const form of rotate(forms, round - 1)) {
      rmSync(dst, { force: true });
      const busy0 = machineBusySeconds();
      const run = await runRsync(
        scope,
        rsyncArgs(bw.transport[form], bw.src, `${HOSTS.direct}:${dst}`),
        { timeoutMs },
      );
      const machineCpuSeconds = machineBusySeconds() - busy0;
      if (run.code !== 0) {
        throw new Error(
          `round ${round}, ${form}: rsync exit ${run.code ?? run.signal}` +
            `${run.timedOut ? ` (timed out after ${timeoutMs} ms)` : ''}:\n${stderrTail(run)}`,
        );
      }
      const shimCpu = form === 'ssh' ? null : await takeShimCpu(bw.cpuDir);
      if ((await sha256(dst)) !== bw.srcSha256) {
        throw new Error(`round ${round}, ${form}: the copy's sha256 differs from the source's`);
      }
      rmSync(dst, { force: true });
      const sample: RunSample = {
        form,
        round,
        seconds: run.seconds,
        mibPerSec: bw.bytes / 2 ** 20 / run.seconds,
        shimCpu,
        machineCpuSeconds,
      };
      samples.push(sample);
      const cpu = shimCpu
        ? `; shim CPU local ${fmt(shimCpu.local)} s, serve ${fmt(shimCpu.serve)} s, holder ${fmt(shimCpu.holder)} s`
        : '';
      log(
        `no faults, round ${round}/${rounds}, ${form}: ${run.seconds.toFixed(2)} s ` +
          `(${sample.mibPerSec.toFixed(0)} MiB/s), machine CPU ${machineCpuSeconds.toFixed(1)} s${cpu}`,
      );
    }
  }

  return summarizeNoFaults(samples, { host: HOSTS.direct, bytes: bw.bytes, rounds, forms });
}

/** One size's result from its runs: medians per form, overhead over ssh, CPU per GiB. Pure. */
export function summarizeNoFaults(
  samples: RunSample[],
  opts: { host: string; bytes: number; rounds: number; forms: readonly Form[] },
): NoFaultResult {
  const { host, bytes, rounds, forms } = opts;
  const of = (form: Form) => samples.filter((s) => s.form === form);
  const cpuMedians = (form: Form): RoleMedians => {
    const role = (r: keyof RoleMedians) => {
      const values = of(form)
        .map((s) => s.shimCpu?.[r])
        .filter((v): v is number => typeof v === 'number');
      return values.length > 0 ? median(values) : null;
    };
    return { local: role('local'), serve: role('serve'), holder: role('holder') };
  };
  const base = {
    host,
    bytes,
    rounds,
    samples,
    forms: forms.map((form) => ({
      form,
      medianSeconds: median(of(form).map((s) => s.seconds)),
      medianMiBps: median(of(form).map((s) => s.mibPerSec)),
      medianMachineCpuSeconds: median(of(form).map((s) => s.machineCpuSeconds)),
    })),
  };
  return {
    ...base,
    forms: base.forms.map((f) => ({
      ...f,
      vsSsh: formOverhead(base, f.form),
      shimCpuMedian: f.form === 'ssh' ? null : cpuMedians(f.form),
      shimCpuPerGiB: f.form === 'ssh' ? null : cpuPerGiB(base, f.form),
    })),
    overhead: formOverhead(base, 'shim'),
    shimCpuMedian: cpuMedians('shim'),
  };
}

function fmt(v: number | null): string {
  return v === null ? '?' : v.toFixed(2);
}
