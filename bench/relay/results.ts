/**
 * The relay benchmark's results file format and the targets the results are judged against.
 * Pure: data in, verdicts out.
 */

import type { MachineInfo } from '../lib/machine.js';
import type { BenchTarget } from '../lib/report.js';
import { round } from '../lib/stats.js';
import type { CipherReport } from './ciphers.js';
import type { IdleResult } from './idle.js';
import type { OpensshIdleResult } from './idle-openssh.js';
import type { LatencyResult } from './latency.js';
import type { ThroughputResult } from './throughput.js';
import type { Form } from './world.js';

export interface PhaseRecord<T> {
  date: string;
  command: string;
  machine: MachineInfo;
  durationS: number;
  result: T;
}

export interface RelayPhases {
  throughput?: PhaseRecord<ThroughputResult>;
  latency?: PhaseRecord<LatencyResult>;
  ciphers?: PhaseRecord<CipherReport>;
  /** The most recent idle-devices run. */
  idle?: PhaseRecord<IdleResult>;
  /** The most recent idle-devices run for each device count, keyed by that count. */
  idleRuns?: Record<string, PhaseRecord<IdleResult>>;
  opensshIdle?: PhaseRecord<OpensshIdleResult>;
}

export type Status = 'pass' | 'FAIL' | 'not measured';

export type Target = BenchTarget<Status>;

export interface RelayResults {
  benchmark: 'relay';
  updated: string;
  targets: Target[];
  phases: RelayPhases;
}

export const TARGETS = {
  throughputRatio: 1.2,
  relayCpuPerGiB: 1.5,
  addedP50Ms: 25,
  kibPerDevice: 40,
  kibPerDeviceAt: 50_000,
  registrationsPerSec: 600,
};

export const SHORT: Record<Form, string> = {
  burrow: 'burrow relay',
  'openssh-sock': 'OpenSSH jumphost, unix-socket recipe',
  'openssh-port': 'OpenSSH jumphost, -R port',
  direct: 'direct (no hop)',
  'direct-nc': 'direct via ProxyCommand nc (no hop)',
};

export const n0 = (x: number) => Math.round(x).toLocaleString('en-US').replaceAll(',', ' ');
export const f1 = (x: number) => round(x, 1).toFixed(1);
export const f2 = (x: number) => round(x, 2).toFixed(2);

export function evaluateTargets(p: RelayPhases): Target[] {
  const t: Target[] = [];
  const tp = p.throughput?.result;
  if (tp) {
    const base = tp.forms.filter((f) => f.form !== 'burrow');
    const worst = Math.min(...base.map((f) => f.burrowRatio));
    t.push({
      id: 'throughput-ratio',
      target: `throughput ≥ ${TARGETS.throughputRatio}× the OpenSSH jumphost`,
      measured: base.map((f) => `${f2(f.burrowRatio)}× vs ${SHORT[f.form]}`).join('; '),
      status: worst >= TARGETS.throughputRatio ? 'pass' : 'FAIL',
    });
    const relay = tp.forms.find((f) => f.form === 'burrow')!;
    t.push({
      id: 'relay-cpu',
      target: `relay ≤ ${TARGETS.relayCpuPerGiB} CPU-s per GiB`,
      measured:
        `${f2(relay.medianHopCpuSecondsPerGiB)} s/GiB (OpenSSH jumphost: ` +
        `${base.map((f) => `${f2(f.medianHopCpuSecondsPerGiB)} ${f.form === 'openssh-sock' ? 'recipe' : '-R port'}`).join(', ')})`,
      status: relay.medianHopCpuSecondsPerGiB <= TARGETS.relayCpuPerGiB ? 'pass' : 'FAIL',
    });
  } else {
    t.push(
      notMeasured(
        'throughput-ratio',
        `throughput ≥ ${TARGETS.throughputRatio}× the OpenSSH jumphost`,
      ),
    );
    t.push(notMeasured('relay-cpu', `relay ≤ ${TARGETS.relayCpuPerGiB} CPU-s per GiB`));
  }
  const lat = p.latency?.result;
  const latTarget = `ssh -J relay adds ≤ ${TARGETS.addedP50Ms} ms p50 over a direct ssh`;
  if (lat) {
    const b = lat.forms.find((f) => f.form === 'burrow')!;
    const d = lat.forms
      .filter((f) => f.form === 'direct' || f.form === 'direct-nc')
      .sort((x, y) => x.p50Ms - y.p50Ms)[0]!;
    t.push({
      id: 'added-latency',
      target: latTarget,
      measured: `${signed(b.addedP50Ms)} ms (p50 ${f1(b.p50Ms)} ms vs ${f1(d.p50Ms)} ms ${SHORT[d.form]})`,
      status: b.addedP50Ms <= TARGETS.addedP50Ms ? 'pass' : 'FAIL',
    });
  } else t.push(notMeasured('added-latency', latTarget));
  const idle = p.idle?.result;
  const largest = largestIdle(p)?.result ?? idle;
  const memTarget = `≤ ${TARGETS.kibPerDevice} KiB per idle device at ${n0(TARGETS.kibPerDeviceAt)} devices`;
  const regTarget = `≥ ${TARGETS.registrationsPerSec} registrations/s`;
  if (idle && largest) {
    const ok = largest.kibPerDevice <= TARGETS.kibPerDevice;
    const partial = largest.devices < TARGETS.kibPerDeviceAt;
    t.push({
      id: 'memory-per-device',
      target: memTarget,
      measured: `${f1(largest.kibPerDevice)} KiB at ${n0(largest.devices)} devices`,
      status: ok ? 'pass' : 'FAIL',
      ...(partial
        ? {
            note: `at ${n0(largest.devices)} devices; ${n0(TARGETS.kibPerDeviceAt)} cannot run on this machine`,
          }
        : {}),
    });
    t.push({
      id: 'registrations-per-sec',
      target: regTarget,
      measured: `${n0(idle.registrationsPerSec)}/s (${n0(idle.registered)} devices, load generator on the same machine)`,
      status:
        idle.registrationsPerSec >= TARGETS.registrationsPerSec && idle.failed === 0
          ? 'pass'
          : 'FAIL',
    });
  } else {
    t.push(notMeasured('memory-per-device', memTarget));
    t.push(notMeasured('registrations-per-sec', regTarget));
  }
  return t;
}

/** The idle run with the most devices (the one closest to the memory target's scale). */
export function largestIdle(p: RelayPhases): PhaseRecord<IdleResult> | undefined {
  const runs = Object.values(p.idleRuns ?? {});
  if (p.idle) runs.push(p.idle);
  return runs.sort((a, b) => b.result.devices - a.result.devices)[0];
}

export function signed(x: number): string {
  return x >= 0 ? `+${f1(x)}` : `−${f1(-x)}`;
}

function notMeasured(id: string, target: string): Target {
  return { id, target, measured: '—', status: 'not measured' };
}
