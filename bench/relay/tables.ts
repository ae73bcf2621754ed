/** The relay benchmark's tables, for BENCHMARKS.md and the terminal alike. Pure: data in, rows out. */
import type { Cell, Table } from '../lib/table.js';
import type { CipherReport, Negotiated } from './ciphers.js';
import type { IdleResult } from './idle.js';
import type { LatencyResult } from './latency.js';
import {
  f1,
  f2,
  type IdlePhaseResult,
  largestIdle,
  n0,
  SHORT,
  signed,
  TARGETS,
} from './results.js';
import type { ThroughputResult } from './throughput.js';
import type { Form } from './world.js';

export function throughputTable(tp: ThroughputResult): Table {
  return {
    title:
      `${f1(tp.bytes / 2 ** 30)} GiB to the device: \`head -c ${tp.bytes} /dev/zero | ssh <path> ` +
      `root@dev 'wc -c'\`, ${tp.rounds} rounds, median reported`,
    headers: ['path', 'median MiB/s', 'burrow ÷ this', 'hop CPU-s per GiB', 'each round, MiB/s'],
    rows: tp.forms.map((f) => [
      SHORT[f.form],
      n0(f.medianMiBps),
      f.form === 'burrow' ? '—' : `${f2(f.burrowRatio)}×`,
      f2(f.medianHopCpuSecondsPerGiB),
      tp.samples
        .filter((s) => s.form === f.form)
        .map((s) => n0(s.mibPerSec))
        .join(', '),
    ]),
  };
}

export function latencyTable(lat: LatencyResult): Table {
  return {
    title: `${lat.runs} runs per path after ${lat.warmup} warm-up rounds`,
    headers: ['path', 'p50 ms', 'p95 ms', 'min ms', 'max ms', 'added p50 vs faster direct, ms'],
    rows: lat.forms.map((f) => [
      SHORT[f.form],
      f1(f.p50Ms),
      f1(f.p95Ms),
      f1(f.minMs),
      f1(f.maxMs),
      signed(f.addedP50Ms),
    ]),
  };
}

function idleRows(r: IdlePhaseResult): Cell[][] {
  const idle = r.relay;
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
  const os = r.openssh?.result;
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

const utc = (iso: string) => iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');

function idleNotes(r: IdlePhaseResult): string[] {
  const notes: string[] = [];
  if (r.openssh) {
    notes.push(
      `The OpenSSH comparison was measured ${utc(r.openssh.date)}, right after the relay, in ` +
        `${r.openssh.durationS} s.`,
    );
  }
  const largest = largestIdle(r);
  const hard = largest.fdHardLimit;
  if (Number.isFinite(hard) && hard < TARGETS.kibPerDeviceAt + 1024) {
    notes.push(
      `On the machine measured here the open-file hard limit is ${n0(hard)} and cannot be ` +
        `raised (no \`CAP_SYS_RESOURCE\` in this container), so ${n0(TARGETS.kibPerDeviceAt)} ` +
        `devices cannot run: the memory target is judged at the largest count measured, ` +
        `${n0(largest.devices)}.`,
    );
  }
  return notes;
}

function scalingTable(runs: IdlePhaseResult['runs']): Table {
  return {
    title: 'The latest run for each device count measured',
    headers: [
      'devices',
      'KiB per device',
      'registrations/s',
      'relay CPU ms per registration',
      'idle CPU % of a core',
      'date',
      'took',
      'command',
    ],
    rows: Object.values(runs)
      .sort((a, b) => a.result.devices - b.result.devices)
      .map((r) => [
        n0(r.result.devices),
        f1(r.result.kibPerDevice),
        n0(r.result.registrationsPerSec),
        f2(r.result.relayCpuMsPerRegistration),
        f2(r.result.idleCpuPercentOfCore),
        utc(r.date),
        `${r.durationS} s`,
        `\`${r.command}\``,
      ]),
  };
}

export function idleTables(r: IdlePhaseResult): Table[] {
  const idle: IdleResult = r.relay;
  const tables: Table[] = [
    {
      title:
        `${n0(idle.devices)} devices on one relay process; RSS sampled over ` +
        `${f1(idle.idleWindowS)} s of idleness`,
      headers: ['', 'measured'],
      rows: idleRows(r),
      notes: idleNotes(r),
    },
  ];
  if (Object.keys(r.runs).length > 1) tables.push(scalingTable(r.runs));
  return tables;
}

function kexRow(label: string, n: Negotiated | undefined): Cell[] {
  const code = (a: string) => `\`${a}\``;
  return n
    ? [label, code(n.kex), code(n.hostKey), code(n.cipher), code(n.mac)]
    : [label, '?', '?', '?', '?'];
}

export function cipherTable(c: CipherReport): Table {
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
  return { headers: ['connection', 'kex', 'host key', 'cipher', 'MAC'], rows };
}
