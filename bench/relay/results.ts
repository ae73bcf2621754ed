/**
 * The relay benchmark's stored results and the targets they are judged against. Pure: data in,
 * verdicts out.
 */

import type { MachineInfo } from '../lib/machine.js';
import { type BenchTarget, status } from '../lib/runner.js';
import { round } from '../lib/stats.js';
import type { IdleResult } from './idle.js';
import type { OpensshIdleResult } from './idle-openssh.js';
import type { LatencyResult } from './latency.js';
import type { ThroughputResult } from './throughput.js';
import type { Form } from './world.js';

/** One measurement kept inside a phase's result, with when and how it was taken. */
export interface Run<T> {
  readonly date: string;
  readonly command: string;
  readonly machine: MachineInfo;
  readonly durationS: number;
  readonly result: T;
}

/** The idle phase: the relay's run, the OpenSSH comparison, and the history by device count. */
export interface IdlePhaseResult {
  readonly relay: IdleResult;
  /** The OpenSSH jumphost measured right after the relay; absent with --openssh-devices 0. */
  readonly openssh?: Run<OpensshIdleResult>;
  /** The latest relay run for each device count measured, keyed by that count (this one too). */
  readonly runs: Record<string, Run<IdleResult>>;
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

export function signed(x: number): string {
  return x >= 0 ? `+${f1(x)}` : `−${f1(-x)}`;
}

export function throughputTargets(tp: ThroughputResult): BenchTarget[] {
  const base = tp.forms.filter((f) => f.form !== 'burrow');
  const worst = Math.min(...base.map((f) => f.burrowRatio));
  const relay = tp.forms.find((f) => f.form === 'burrow')!;
  return [
    {
      id: 'throughput-ratio',
      target: `throughput ≥ ${TARGETS.throughputRatio}× the OpenSSH jumphost`,
      measured: base.map((f) => `${f2(f.burrowRatio)}× vs ${SHORT[f.form]}`).join('; '),
      status: status(worst >= TARGETS.throughputRatio),
    },
    {
      id: 'relay-cpu',
      target: `relay ≤ ${TARGETS.relayCpuPerGiB} CPU-s per GiB`,
      measured:
        `${f2(relay.medianHopCpuSecondsPerGiB)} s/GiB (OpenSSH jumphost: ` +
        `${base.map((f) => `${f2(f.medianHopCpuSecondsPerGiB)} ${f.form === 'openssh-sock' ? 'recipe' : '-R port'}`).join(', ')})`,
      status: status(relay.medianHopCpuSecondsPerGiB <= TARGETS.relayCpuPerGiB),
    },
  ];
}

export function latencyTargets(lat: LatencyResult): BenchTarget[] {
  const b = lat.forms.find((f) => f.form === 'burrow')!;
  const d = lat.forms
    .filter((f) => f.form === 'direct' || f.form === 'direct-nc')
    .sort((x, y) => x.p50Ms - y.p50Ms)[0]!;
  return [
    {
      id: 'added-latency',
      target: `ssh -J relay adds ≤ ${TARGETS.addedP50Ms} ms p50 over a direct ssh`,
      measured: `${signed(b.addedP50Ms)} ms (p50 ${f1(b.p50Ms)} ms vs ${f1(d.p50Ms)} ms ${SHORT[d.form]})`,
      status: status(b.addedP50Ms <= TARGETS.addedP50Ms),
    },
  ];
}

/** The relay run with the most devices (the one closest to the memory target's scale). */
export function largestIdle(r: IdlePhaseResult): IdleResult {
  return [r.relay, ...Object.values(r.runs).map((x) => x.result)].sort(
    (a, b) => b.devices - a.devices,
  )[0]!;
}

export function idleTargets(r: IdlePhaseResult): BenchTarget[] {
  const idle = r.relay;
  const largest = largestIdle(r);
  const partial = largest.devices < TARGETS.kibPerDeviceAt;
  return [
    {
      id: 'memory-per-device',
      target: `≤ ${TARGETS.kibPerDevice} KiB per idle device at ${n0(TARGETS.kibPerDeviceAt)} devices`,
      measured: `${f1(largest.kibPerDevice)} KiB at ${n0(largest.devices)} devices`,
      status: status(largest.kibPerDevice <= TARGETS.kibPerDevice),
      ...(partial
        ? {
            note: `at ${n0(largest.devices)} devices; ${n0(TARGETS.kibPerDeviceAt)} cannot run on this machine`,
          }
        : {}),
    },
    {
      id: 'registrations-per-sec',
      target: `≥ ${TARGETS.registrationsPerSec} registrations/s`,
      measured: `${n0(idle.registrationsPerSec)}/s (${n0(idle.registered)} devices, load generator on the same machine)`,
      status: status(idle.registrationsPerSec >= TARGETS.registrationsPerSec && idle.failed === 0),
    },
  ];
}
