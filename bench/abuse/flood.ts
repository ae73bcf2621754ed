/**
 * Phase `flood`: a pre-auth flood from many addresses must not lock out a user whose address
 * never misbehaved. For each system (burrow's relay with its default flags; OpenSSH's sshd with
 * its defaults as a jumphost): the quiet latency of the legitimate `ssh -J … true` (p50), then
 * 3 000 stalled connections (connect, read the banner, send nothing) from 200 loopback addresses
 * (127.0.1.1–100, 127.0.2.1–100), each reopened as the server closes it, while the same ssh runs
 * in a loop from 127.0.0.1 for a fixed time. Targets (burrow): success >= 90% and p50 <= 2x quiet.
 */
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { loopbackSources, startFlood } from '../../test/helpers/flood.js';
import { cpuSeconds, rssKiB, treeCpuSeconds, treeMemory } from '../lib/procfs.js';
import { type BenchTarget, definePhase, status } from '../lib/runner.js';
import { median, percentile, round } from '../lib/stats.js';
import type { Table } from '../lib/table.js';
import { FORMS, type Form, startWorld, type World } from '../relay/world.js';
import type { AbuseFlags, AbuseOpts } from './phases.js';

const SOURCES = 200;
const PER_SOURCE = 15;
const TIMEOUT_MS = 15_000;

export interface FloodSystem {
  system: 'burrow' | 'openssh';
  command: string;
  quietRuns: number;
  quietP50Ms: number;
  attempts: number;
  successes: number;
  successRate: number;
  floodP50Ms: number | null;
  floodP95Ms: number | null;
  ratioToQuiet: number | null;
  /** Most memory the server held during the flood (burrow: its RSS; sshd: RSS of its tree). */
  peakRssMiB: number;
  /** CPU seconds the server used during the flood. */
  cpuS: number;
  /** Audit lines about refused connections written during the flood (burrow only). */
  refusalAuditLines: number | null;
  flood: { attempts: number; banners: number; closedByServer: number; peakOpen: number };
  failures: string[];
}

export interface FloodResult {
  sources: number;
  perSource: number;
  durationS: number;
  reopenDelayMs: number;
  opensshVersion: string;
  systems: FloodSystem[];
}

interface Target {
  system: FloodSystem['system'];
  form: Form;
  port: number;
  /** The server's pid (sshd: the listener, whose tree holds every pre-auth child). */
  pid: number;
  tree: boolean;
  auditPath?: string;
}

async function countRefusalLines(path: string | undefined): Promise<number | null> {
  if (!path) return null;
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.split('"event":"conn.refused').length - 1;
}

async function timedRun(
  world: World,
  form: Form,
): Promise<{ ok: boolean; ms: number; err: string }> {
  const t0 = performance.now();
  const r = await world.op.run([FORMS[form].host, 'true'], { timeoutMs: TIMEOUT_MS });
  return {
    ok: r.code === 0,
    ms: performance.now() - t0,
    err: r.stderr.trim().split('\n').at(-1) ?? '',
  };
}

async function measureSystem(ctx: AbuseOpts, world: World, t: Target): Promise<FloodSystem> {
  const { flags, log } = ctx;
  const quiet: number[] = [];
  for (let i = 0; i < flags['quiet-runs'] + 2; i++) {
    const r = await timedRun(world, t.form);
    if (!r.ok) throw new Error(`${t.system}: quiet ssh … true failed: ${r.err}`);
    if (i >= 2) quiet.push(r.ms);
  }
  const quietP50 = median(quiet);
  log(`flood/${t.system}: quiet p50 ${round(quietP50)} ms; flooding for ${flags.duration} s`);

  const linesBefore = await countRefusalLines(t.auditPath);
  const cpuBefore = t.tree ? treeCpuSeconds(t.pid) : (cpuSeconds(t.pid) ?? 0);
  const flood = startFlood({
    host: '127.0.0.1',
    port: t.port,
    sources: loopbackSources(SOURCES, 100),
    perSource: PER_SOURCE,
    durationMs: flags.duration * 1000 + TIMEOUT_MS,
    reopenDelayMs: flags['reopen-delay'],
  });
  let peakKiB = 0;
  const sampler = setInterval(() => {
    const kib = t.tree ? treeMemory(t.pid).rssKiB : (rssKiB(t.pid) ?? 0);
    peakKiB = Math.max(peakKiB, kib);
  }, 500);
  const okMs: number[] = [];
  const failures = new Map<string, number>();
  let attempts = 0;
  const end = performance.now() + flags.duration * 1000;
  try {
    while (performance.now() < end) {
      const r = await timedRun(world, t.form);
      attempts += 1;
      if (r.ok) okMs.push(r.ms);
      else failures.set(r.err, (failures.get(r.err) ?? 0) + 1);
    }
  } finally {
    clearInterval(sampler);
  }
  const counts = await flood.stop();
  const cpuAfter = t.tree ? treeCpuSeconds(t.pid) : (cpuSeconds(t.pid) ?? 0);
  const linesAfter = await countRefusalLines(t.auditPath);
  const p50 = okMs.length ? median(okMs) : null;
  const sys: FloodSystem = {
    system: t.system,
    command: `ssh ${FORMS[t.form].label.split(': ').at(-1)} true`,
    quietRuns: quiet.length,
    quietP50Ms: round(quietP50),
    attempts,
    successes: okMs.length,
    successRate: round((100 * okMs.length) / Math.max(1, attempts)),
    floodP50Ms: p50 === null ? null : round(p50),
    floodP95Ms: okMs.length ? round(percentile(okMs, 95)) : null,
    ratioToQuiet: p50 === null ? null : round(p50 / quietP50, 2),
    peakRssMiB: round(peakKiB / 1024),
    cpuS: round(cpuAfter - cpuBefore),
    refusalAuditLines:
      linesBefore === null || linesAfter === null ? null : linesAfter - linesBefore,
    flood: { ...counts },
    failures: [...failures].map(([e, n]) => `${n}× ${e.slice(0, 120)}`),
  };
  log(
    `flood/${t.system}: ${sys.successes}/${sys.attempts} ok, p50 ${sys.floodP50Ms} ms ` +
      `(${sys.ratioToQuiet}x quiet), flood made ${counts.attempts} connections`,
  );
  // Let the server forget the flood before the next system is measured.
  await new Promise((r) => setTimeout(r, 2000));
  return sys;
}

/** `OpenSSH_9.2p1` from `ssh -V` (which prints to stderr). */
function opensshVersion(): string {
  const r = spawnSync('ssh', ['-V'], { encoding: 'utf8' });
  return `${r.stderr}${r.stdout}`.trim().split(',')[0] || 'unknown';
}

function targetsOf(r: FloodResult): BenchTarget[] {
  const b = r.systems.find((s) => s.system === 'burrow');
  return [
    {
      id: 'flood-success',
      target: 'legitimate ssh -J under the flood succeeds in >= 90% of attempts',
      measured: b ? `${b.successRate}% (${b.successes}/${b.attempts})` : 'not measured',
      status: status(!!b && b.successRate >= 90),
    },
    {
      id: 'flood-latency',
      target: 'its p50 under the flood <= 2x its quiet p50',
      measured:
        b && b.floodP50Ms !== null
          ? `${b.floodP50Ms} ms vs ${b.quietP50Ms} ms quiet (${b.ratioToQuiet}x)`
          : 'not measured',
      status: status(!!b && b.ratioToQuiet !== null && b.ratioToQuiet <= 2),
    },
  ];
}

const ROW_HEADERS = [
  'system',
  'quiet p50 ms',
  'ok under flood',
  'p50 ms',
  'p95 ms',
  'x quiet',
  'peak RSS MiB',
  'CPU s',
  'refusal audit lines',
  'flood connections',
];

function rows(r: FloodResult) {
  return r.systems.map((s) => [
    s.system === 'burrow' ? 'burrow relay (default flags)' : `OpenSSH sshd (${r.opensshVersion})`,
    s.quietP50Ms,
    `${s.successRate}% (${s.successes}/${s.attempts})`,
    s.floodP50Ms ?? '-',
    s.floodP95Ms ?? '-',
    s.ratioToQuiet ?? '-',
    s.peakRssMiB,
    s.cpuS,
    s.refusalAuditLines ?? 'n/a',
    s.flood.attempts,
  ]);
}

export const floodPhase = definePhase<AbuseFlags, FloodResult>({
  name: 'flood',
  title: 'Phase flood: stalled pre-auth connections from many addresses',
  async measure(scope, ctx) {
    const world = await startWorld(scope);
    const systems: FloodSystem[] = [];
    systems.push(
      await measureSystem(ctx, world, {
        system: 'burrow',
        form: 'burrow',
        port: world.relay.port,
        pid: world.relay.pid,
        tree: false,
        auditPath: world.relay.auditPath,
      }),
    );
    systems.push(
      await measureSystem(ctx, world, {
        system: 'openssh',
        form: 'openssh-port',
        port: world.jump.port,
        pid: world.jump.proc.pid,
        tree: true,
      }),
    );
    const result: FloodResult = {
      sources: SOURCES,
      perSource: PER_SOURCE,
      durationS: ctx.flags.duration,
      reopenDelayMs: ctx.flags['reopen-delay'],
      opensshVersion: opensshVersion(),
      systems,
    };
    return { result, targets: targetsOf(result) };
  },
  tables(r) {
    const failures = r.systems.flatMap((s) =>
      s.failures.map((f) => `failed under the flood (last stderr line), ${s.system}: ${f}`),
    );
    const table: Table = {
      title:
        `${r.sources * r.perSource} stalled connections from ${r.sources} addresses, ` +
        `reopened ${r.reopenDelayMs} ms after a close, for ${r.durationS} s`,
      headers: ROW_HEADERS,
      rows: rows(r),
    };
    return [failures.length ? { ...table, notes: failures } : table];
  },
});
