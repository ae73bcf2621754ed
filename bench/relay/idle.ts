/**
 * Idle devices per relay process: N devices (bench/loadgen.ts, one ssh2 connection and one
 * ed25519 key each) register `dN:22` on a relay started for this measurement, then stay idle
 * while the relay keeps them alive. Measures relay RSS before and after, registration rate,
 * relay CPU per registration, and relay CPU while idle (keepalives only).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateEd25519 } from '../../src/ssh/keys.js';
import { type Proc, type Scope, startProc } from '../../test/helpers/index.js';
import { cpuSeconds, rssKiB } from '../lib/procfs.js';
import { BenchUsageError } from '../lib/report.js';
import { median } from '../lib/stats.js';
import { countAudit, startRelayProcess } from './world.js';

const LOADGEN = new URL('../loadgen.js', import.meta.url).pathname;

/** Connections per source address before another is used (one ephemeral range holds ~28k). */
export const DEVICES_PER_SOURCE = 20_000;
/** File descriptors the relay and the load generator need beyond one per device. */
const FD_MARGIN = 1024;
const KEEPALIVE_INTERVAL_S = 5;

export interface IdleResult {
  devices: number;
  concurrency: number;
  sources: string[];
  keygenSeconds: number;
  registered: number;
  failed: number;
  registerSeconds: number;
  registrationsPerSec: number;
  relayCpuSecondsRegistering: number;
  relayCpuMsPerRegistration: number;
  loadgenCpuSecondsRegistering: number;
  rssBeforeKiB: number;
  rssAfterKiB: number;
  rssAfterSamplesKiB: number[];
  kibPerDevice: number;
  keepaliveIntervalS: number;
  idleWindowS: number;
  idleCpuPercentOfCore: number;
  idleCpuMsPerKeepaliveRound: number;
  /** Device connections the relay closed while they were idle (should be 0). */
  droppedWhileIdle: number;
  auditLog: string;
  auditBytes: number;
  fdLimit: number;
  /** `ulimit -Hn` when the run started. */
  fdHardLimit: number;
}

/** Whether `ulimit -n need` (soft and hard) succeeds: it does with CAP_SYS_RESOURCE. */
function canRaiseFdLimit(need: number): boolean {
  return spawnSync('bash', ['-c', `ulimit -n ${need}`]).status === 0;
}

/** The hard limit on open files (`ulimit -Hn`); Infinity when unlimited. */
export function hardFdLimit(): number {
  const text = execFileSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
  return text === 'unlimited' ? Number.POSITIVE_INFINITY : Number(text);
}

/**
 * Throws (before anything starts) when `devices` cannot be measured here: the relay holds one
 * socket per device, and so does the load generator, and neither may exceed the hard limit.
 */
export function checkDeviceCount(devices: number): number {
  const need = devices + FD_MARGIN;
  const hard = hardFdLimit();
  if (need > hard && !canRaiseFdLimit(need)) {
    throw new BenchUsageError(
      `--devices ${devices} needs about ${need} open files in the relay process (and in the load ` +
        `generator), but the hard limit here is ${hard} (ulimit -Hn), and raising it needs ` +
        `CAP_SYS_RESOURCE, which this process does not have. The most this machine can measure ` +
        `is --devices ${hard - FD_MARGIN}.`,
    );
  }
  return need;
}

function progressOf(proc: Proc): string {
  const lines = proc.output('stdout').trim().split('\n');
  return lines[lines.length - 1] ?? '';
}

export async function measureIdle(
  scope: Scope,
  dir: string,
  opts: {
    devices: number;
    concurrency: number;
    idleWindowS: number;
    /** Extra relay flags (e.g. `--ciphers …`). */
    relayArgs?: string[];
    log: (msg: string) => void;
    profileDir?: string;
  },
): Promise<{ result: IdleResult; relayProc: Proc }> {
  const { devices, concurrency, idleWindowS, log } = opts;
  const fdLimit = checkDeviceCount(devices);

  const t0 = performance.now();
  const keyLines: string[] = [];
  const policy: string[] = [];
  for (let i = 0; i < devices; i++) {
    const name = `d${i}`;
    const k = generateEd25519(name);
    keyLines.push(JSON.stringify({ name, key: k.privateKey }));
    policy.push(`permitlisten="${name}:22" ${k.publicLine}`);
  }
  const keysPath = join(dir, 'devices.jsonl');
  await writeFile(keysPath, `${keyLines.join('\n')}\n`, { mode: 0o600 });
  const keygenSeconds = (performance.now() - t0) / 1000;
  log(`idle: generated ${devices} ed25519 keys in ${keygenSeconds.toFixed(1)} s`);

  const auditPath = join(dir, 'idle-relay-audit.jsonl');
  const relay = await startRelayProcess(scope, {
    dir,
    policy,
    fdLimit,
    auditPath,
    args: [
      '--max-startups',
      '4096:30:4096',
      '--max-startups-per-source',
      '100000',
      '--keepalive-interval',
      `${KEEPALIVE_INTERVAL_S}s`,
      ...(opts.relayArgs ?? []),
    ],
    ...(opts.profileDir ? { profileDir: opts.profileDir } : {}),
  });
  const rssBefore: number[] = [];
  for (let i = 0; i < 3; i++) {
    await sleep(300);
    rssBefore.push(rssKiB(relay.pid) ?? Number.NaN);
  }

  const sourceCount = Math.ceil(devices / DEVICES_PER_SOURCE);
  const sources = Array.from({ length: sourceCount }, (_, i) => `127.0.0.${i + 1}`);
  const loadgenArgs = [
    LOADGEN,
    '--relay',
    `127.0.0.1:${relay.port}`,
    '--keys',
    keysPath,
    '--concurrency',
    String(concurrency),
    ...(sourceCount > 1 ? ['--source', sources.join(',')] : []),
  ];
  const relayCpu0 = cpuSeconds(relay.pid) ?? Number.NaN;
  // stdin stays an open pipe: the load generator holds its connections until it closes.
  const loadgen = startProc(
    scope,
    'bash',
    ['-c', `ulimit -n ${fdLimit} && exec "$0" "$@"`, process.execPath, ...loadgenArgs],
    { name: 'loadgen', maxLines: 200, stopGraceMs: 10_000 },
  );
  const ticker = setInterval(() => log(`idle: ${progressOf(loadgen)}`), 5000);
  let doneLine: RegExpMatchArray;
  try {
    // Bounded by a floor of 50 registrations/s, far below anything acceptable.
    doneLine = await loadgen.waitForLine(/^\{"type":"done".*\}$/, {
      stream: 'stdout',
      timeoutMs: 60_000 + devices * 20,
    });
  } finally {
    clearInterval(ticker);
  }
  const relayCpu1 = cpuSeconds(relay.pid) ?? Number.NaN;
  const loadgenCpu = cpuSeconds(loadgen.pid) ?? Number.NaN;
  const done = JSON.parse(doneLine[0]) as {
    registered: number;
    failed: number;
    elapsedMs: number;
    ratePerSec: number;
  };
  log(
    `idle: ${done.registered} registered, ${done.failed} failed in ` +
      `${(done.elapsedMs / 1000).toFixed(1)} s (${done.ratePerSec}/s)`,
  );

  // Let the registration burst settle (and one keepalive round pass) before sampling.
  await sleep(KEEPALIVE_INTERVAL_S * 1000);
  const cpuA = cpuSeconds(relay.pid) ?? Number.NaN;
  const tA = performance.now();
  const rssAfter: number[] = [];
  const samples = 3;
  for (let i = 0; i < samples; i++) {
    await sleep((idleWindowS * 1000) / samples);
    rssAfter.push(rssKiB(relay.pid) ?? Number.NaN);
  }
  const idleSeconds = (performance.now() - tA) / 1000;
  const idleCpu = (cpuSeconds(relay.pid) ?? Number.NaN) - cpuA;
  const dropped = await countAudit(auditPath, 'conn.closed');
  if (loadgen.exit) throw new Error(`the load generator exited early:\n${loadgen.tail()}`);
  const auditBytes = (await stat(auditPath)).size;

  const before = median(rssBefore);
  const after = median(rssAfter);
  const result: IdleResult = {
    devices,
    concurrency,
    sources,
    keygenSeconds,
    registered: done.registered,
    failed: done.failed,
    registerSeconds: done.elapsedMs / 1000,
    registrationsPerSec: done.registered / (done.elapsedMs / 1000),
    relayCpuSecondsRegistering: relayCpu1 - relayCpu0,
    relayCpuMsPerRegistration: ((relayCpu1 - relayCpu0) * 1000) / Math.max(1, done.registered),
    loadgenCpuSecondsRegistering: loadgenCpu,
    rssBeforeKiB: before,
    rssAfterKiB: after,
    rssAfterSamplesKiB: rssAfter,
    kibPerDevice: (after - before) / Math.max(1, done.registered),
    keepaliveIntervalS: KEEPALIVE_INTERVAL_S,
    idleWindowS: idleSeconds,
    idleCpuPercentOfCore: (idleCpu / idleSeconds) * 100,
    idleCpuMsPerKeepaliveRound: (idleCpu * 1000) / (idleSeconds / KEEPALIVE_INTERVAL_S),
    droppedWhileIdle: dropped,
    auditLog: 'file (JSON lines, one auth.accepted + one name.registered per device)',
    auditBytes,
    fdLimit,
    fdHardLimit: hardFdLimit(),
  };
  log(
    `idle: relay RSS ${(before / 1024).toFixed(1)} → ${(after / 1024).toFixed(1)} MiB, ` +
      `${result.kibPerDevice.toFixed(1)} KiB/device, idle CPU ` +
      `${result.idleCpuPercentOfCore.toFixed(1)}% of a core`,
  );
  await loadgen.stop();
  return { result, relayProc: relay.proc };
}
