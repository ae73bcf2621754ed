/** Table rows (plain cells) shared by the BENCHMARKS.md section and the terminal summary. */
import { type Cell, formatDuration } from '../lib/report.js';
import type { CipherReport, Negotiated } from './ciphers.js';
import type { IdleResult } from './idle.js';
import type { OpensshIdleResult } from './idle-openssh.js';
import type { LatencyResult } from './latency.js';
import {
  f1,
  f2,
  n0,
  type PhaseRecord,
  type RelayPhases,
  SHORT,
  signed,
  type Target,
} from './results.js';
import type { ThroughputResult } from './throughput.js';
import type { Form } from './world.js';

/** Total time of the phases on record, rounded up to whole minutes, e.g. `4 minutes`. */
export function minutes(p: RelayPhases): string {
  const s = [p.throughput, p.latency, p.idle, p.opensshIdle].reduce(
    (sum, r) => sum + (r?.durationS ?? 0),
    15,
  );
  const m = Math.max(1, Math.ceil(s / 60));
  return `${m} minute${m === 1 ? '' : 's'}`;
}

export function scalingRows(p: RelayPhases): Cell[][] {
  return Object.values(p.idleRuns ?? {})
    .sort((a, b) => a.result.devices - b.result.devices)
    .map((r) => [
      n0(r.result.devices),
      f1(r.result.kibPerDevice),
      n0(r.result.registrationsPerSec),
      f2(r.result.relayCpuMsPerRegistration),
      f2(r.result.idleCpuPercentOfCore),
      r.date.slice(0, 10),
      `\`${r.command}\``,
    ]);
}

export function statusCell(t: Target): string {
  const s = t.status === 'pass' ? '**pass**' : t.status === 'FAIL' ? '**FAIL**' : 'not measured';
  return t.note ? `${s} (${t.note})` : s;
}

export function throughputRows(tp: ThroughputResult): Cell[][] {
  return tp.forms.map((f) => [
    SHORT[f.form],
    n0(f.medianMiBps),
    f.form === 'burrow' ? '—' : `${f2(f.burrowRatio)}×`,
    f2(f.medianHopCpuSecondsPerGiB),
    tp.samples
      .filter((s) => s.form === f.form)
      .map((s) => n0(s.mibPerSec))
      .join(', '),
  ]);
}

export function latencyRows(lat: LatencyResult): Cell[][] {
  return lat.forms.map((f) => [
    SHORT[f.form],
    f1(f.p50Ms),
    f1(f.p95Ms),
    f1(f.minMs),
    f1(f.maxMs),
    signed(f.addedP50Ms),
  ]);
}

export function idleRows(idle: IdleResult, os?: OpensshIdleResult): Cell[][] {
  const rows: Cell[][] = [
    ['devices registered / failed', `${n0(idle.registered)} / ${n0(idle.failed)}`],
    [
      'registration',
      `${f1(idle.registerSeconds)} s → **${n0(idle.registrationsPerSec)}/s** (load generator concurrency ${idle.concurrency})`,
    ],
    [
      'relay CPU while registering',
      `${f1(idle.relayCpuSecondsRegistering)} s = ${f2(idle.relayCpuMsPerRegistration)} ms per registration (load generator: ${f1(idle.loadgenCpuSecondsRegistering)} s)`,
    ],
    [
      'relay RSS before → after',
      `${f1(idle.rssBeforeKiB / 1024)} MiB → ${f1(idle.rssAfterKiB / 1024)} MiB (samples ${idle.rssAfterSamplesKiB.map((k) => f1(k / 1024)).join(', ')})`,
    ],
    ['memory per idle device (ΔRSS / N)', `**${f1(idle.kibPerDevice)} KiB**`],
    [
      `relay CPU while idle (keepalive every ${idle.keepaliveIntervalS} s)`,
      `${f2(idle.idleCpuPercentOfCore)}% of one core = ${f1(idle.idleCpuMsPerKeepaliveRound)} ms per keepalive round over ${n0(idle.devices)} devices`,
    ],
    ['devices dropped while idle', n0(idle.droppedWhileIdle)],
    ['audit log written', `${f1(idle.auditBytes / 2 ** 20)} MiB to a file`],
  ];
  if (os) {
    rows.push([
      `OpenSSH jumphost, ${n0(os.devices)} ssh -N -R tunnels (for comparison)`,
      `${f1(os.pssKiBPerDevice)} KiB PSS / ${f1(os.rssKiBPerDevice)} KiB RSS per device ` +
        `(${f1(os.processesPerDevice)} sshd process each): burrow uses ` +
        `${n0(os.pssKiBPerDevice / Math.max(0.1, idle.kibPerDevice))}× less than the PSS`,
    ]);
  }
  return rows;
}

export function kexRow(label: string, n: Negotiated | undefined): Cell[] {
  return n ? [label, n.kex, n.hostKey, n.cipher, n.mac] : [label, '?', '?', '?', '?'];
}

export function cipherRows(c: CipherReport): Cell[][] {
  const rows: Cell[][] = [];
  for (const form of ['burrow', 'openssh-sock', 'openssh-port', 'direct'] as Form[]) {
    const conns = c.operator[form] ?? [];
    if (form === 'direct') rows.push(kexRow('operator → device sshd (direct)', conns[0]));
    else {
      rows.push(
        kexRow(
          `operator → ${form === 'burrow' ? 'relay' : 'jumphost'} (${SHORT[form]}, outer)`,
          conns[0],
        ),
      );
      rows.push(kexRow(`operator → device sshd (${SHORT[form]}, inner)`, conns[1]));
    }
  }
  rows.push(kexRow('device ssh -R → relay', c.device.relay[0]));
  rows.push(kexRow('device ssh -R → jumphost', c.device.jump[0]));
  return rows;
}

export function runRows(p: RelayPhases): Cell[][] {
  const rows: Cell[][] = [];
  const add = (name: string, r: PhaseRecord<unknown> | undefined) => {
    if (!r) return;
    rows.push([
      name,
      r.date.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'),
      `\`${r.command}\``,
      formatDuration(r.durationS * 1000),
      r.machine.loadAvg1,
    ]);
  };
  add('throughput', p.throughput);
  add('latency', p.latency);
  add('idle devices', p.idle);
  add('idle devices (OpenSSH)', p.opensshIdle);
  return rows;
}
