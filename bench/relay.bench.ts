/**
 * `npm run bench -- relay [flags]`: burrow's relay against an OpenSSH reverse jumphost, in the
 * same run. Phases: throughput (1 GiB per path, hop CPU per GiB), latency (`ssh … true`, p50/p95)
 * with the negotiated ciphers, idle devices per relay process (plus the OpenSSH jumphost's memory
 * per tunnel for comparison). Writes bench/results/relay.json and the `relay` section of
 * BENCHMARKS.md (phases not run keep their previous results), and prints a summary.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { generateKey, Scope, tmpDir } from '../test/helpers/index.js';
import { summarizeProfile } from './lib/cpuprofile.js';
import { parseCount, parseSize } from './lib/flags.js';
import { machineInfo } from './lib/machine.js';
import {
  BenchUsageError,
  formatDuration,
  progressLogger,
  readResults,
  runBenchMain,
  textTable,
  updateSection,
  writeResults,
} from './lib/report.js';
import { probeCiphers } from './relay/ciphers.js';
import { checkDeviceCount, measureIdle } from './relay/idle.js';
import { measureOpensshIdle } from './relay/idle-openssh.js';
import { measureLatency } from './relay/latency.js';
import { renderMarkdown, renderSummary } from './relay/render.js';
import {
  evaluateTargets,
  type PhaseRecord,
  type RelayPhases,
  type RelayResults,
} from './relay/results.js';
import { measureThroughput } from './relay/throughput.js';
import { startWorld } from './relay/world.js';

const PHASES = ['throughput', 'latency', 'idle'] as const;
type Phase = (typeof PHASES)[number];

const USAGE = `usage: npm run bench -- relay [flags]

  --phases LIST         phases to run, comma-separated: ${PHASES.join(',')} (default: all)
  --size BYTES          bytes per throughput transfer; K/M/G suffixes (default 1G)
  --rounds N            throughput rounds per path; the median is reported (default 3)
  --latency-runs N      ssh … true runs per path (default 30)
  --devices N           idle devices on one relay (default 10000)
  --concurrency N       load generator connections in flight (default 64)
  --idle-window S       seconds of idleness sampled for RSS and CPU (default 15)
  --openssh-devices N   ssh -N -R tunnels for the OpenSSH memory comparison; 0 skips (default 200)
  --relay-ciphers LIST  pass --ciphers LIST to the relays (default: the relay's own default)
  --no-write            print the summary only; leave results and BENCHMARKS.md alone
  --profile             run the relays under node --cpu-prof and print where their CPU went;
                        results are then NOT written (profiling slows the relay)
  --help`;

function parseFlags(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      phases: { type: 'string', default: PHASES.join(',') },
      size: { type: 'string', default: '1G' },
      rounds: { type: 'string', default: '3' },
      'latency-runs': { type: 'string', default: '30' },
      devices: { type: 'string', default: '10000' },
      concurrency: { type: 'string', default: '64' },
      'idle-window': { type: 'string', default: '15' },
      'openssh-devices': { type: 'string', default: '200' },
      'relay-ciphers': { type: 'string' },
      'no-write': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const phases = values.phases.split(',').map((s) => s.trim()) as Phase[];
  for (const ph of phases) {
    if (!PHASES.includes(ph)) {
      throw new BenchUsageError(`--phases: unknown phase "${ph}"; known: ${PHASES.join(', ')}`);
    }
  }
  return {
    help: values.help,
    phases,
    bytes: parseSize(values.size),
    rounds: parseCount('rounds', values.rounds, 1),
    latencyRuns: parseCount('latency-runs', values['latency-runs'], 1),
    devices: parseCount('devices', values.devices, 1),
    concurrency: parseCount('concurrency', values.concurrency, 1),
    idleWindowS: parseCount('idle-window', values['idle-window'], 3),
    opensshDevices: parseCount('openssh-devices', values['openssh-devices'], 0),
    relayArgs: values['relay-ciphers'] ? ['--ciphers', values['relay-ciphers']] : [],
    noWrite: values['no-write'],
    profile: values.profile,
  };
}

function printProfile(label: string, dir: string): unknown {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) {
    process.stderr.write(`no CPU profile was written in ${dir}\n`);
    return undefined;
  }
  const path = join(dir, files[0]!);
  const s = summarizeProfile(path, 25);
  process.stdout.write(
    `\nCPU profile of the ${label} relay (${path}): ${s.busyMs} ms busy of ${s.totalMs} ms\n`,
  );
  process.stdout.write(
    `${textTable(
      ['category', 'self ms', '% of busy'],
      s.categories.map((c) => [c.category, c.ms, c.pctBusy]),
    )}\n\n`,
  );
  process.stdout.write(
    `${textTable(
      ['function', 'where', 'self ms', '% of busy'],
      s.top.map((f) => [f.fn, f.where, f.ms, f.pctBusy]),
    )}\n`,
  );
  return s;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const flags = parseFlags(argv);
  if (flags.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  // Refuse an impossible idle run before spending minutes on the other phases.
  if (flags.phases.includes('idle')) checkDeviceCount(flags.devices);

  const log = progressLogger('relay');
  const command = `npm run bench -- relay${argv.length ? ` ${argv.join(' ')}` : ''}`;
  const machine = machineInfo();
  const started = Date.now();
  const phases: RelayPhases = {};
  const ran: (keyof RelayPhases)[] = [];
  const record = <T>(t0: number, result: T): PhaseRecord<T> => ({
    date: new Date(t0).toISOString(),
    command,
    machine,
    durationS: Math.round((Date.now() - t0) / 100) / 10,
    result,
  });
  const profiles: Record<string, unknown> = {};
  const profileDir = (label: string) =>
    flags.profile ? mkdtempSync(join(tmpdir(), `burrow-bench-prof-${label}-`)) : undefined;

  if (flags.phases.includes('throughput') || flags.phases.includes('latency')) {
    const scope = new Scope();
    const prof = profileDir('hops');
    try {
      log('starting device sshd, burrow relay, OpenSSH jumphost and the device tunnels');
      const world = await startWorld(scope, {
        relayArgs: flags.relayArgs,
        ...(prof ? { profileDir: prof } : {}),
      });
      let t0 = Date.now();
      phases.ciphers = record(t0, await probeCiphers(scope, world));
      ran.push('ciphers');
      if (flags.phases.includes('throughput')) {
        t0 = Date.now();
        const r = await measureThroughput(scope, world, {
          bytes: flags.bytes,
          rounds: flags.rounds,
          log,
        });
        phases.throughput = record(t0, r);
        ran.push('throughput');
      }
      if (flags.phases.includes('latency')) {
        t0 = Date.now();
        const r = await measureLatency(scope, world, { runs: flags.latencyRuns, log });
        phases.latency = record(t0, r);
        ran.push('latency');
      }
      if (prof) {
        // The relay writes its profile when it exits. Its SIGTERM drain waits for every
        // connection to end, and stock ssh ignores drain@burrow: end the tunnels first.
        await Promise.all(world.tunnels.map((t) => t.stop()));
        await world.relay.proc.stop();
        profiles.hops = printProfile('throughput/latency', prof);
      }
    } finally {
      await scope.close();
    }
  }

  if (flags.phases.includes('idle')) {
    const scope = new Scope();
    const prof = profileDir('idle');
    try {
      const dir = await tmpDir(scope, 'burrow-bench-idle-');
      let t0 = Date.now();
      const { result, relayProc } = await measureIdle(scope, dir, {
        devices: flags.devices,
        concurrency: flags.concurrency,
        idleWindowS: flags.idleWindowS,
        relayArgs: flags.relayArgs,
        log,
        ...(prof ? { profileDir: prof } : {}),
      });
      phases.idle = record(t0, result);
      ran.push('idle');
      await relayProc.stop();
      if (prof) profiles.idle = printProfile('idle-devices', prof);
      if (flags.opensshDevices > 0) {
        t0 = Date.now();
        const key = await generateKey(dir, 'openssh_idle_device_key');
        const os = await measureOpensshIdle(scope, dir, {
          devices: flags.opensshDevices,
          deviceKey: key,
          log,
        });
        phases.opensshIdle = record(t0, os);
        ran.push('opensshIdle');
      }
    } finally {
      await scope.close();
    }
  }

  const previous = readResults<RelayResults>('relay');
  const merged: RelayPhases = { ...(previous?.phases ?? {}), ...phases };
  if (phases.idle) {
    merged.idleRuns = {
      ...(previous?.phases.idleRuns ?? {}),
      [String(phases.idle.result.devices)]: phases.idle,
    };
  }
  const results: RelayResults = {
    benchmark: 'relay',
    updated: new Date().toISOString(),
    targets: evaluateTargets(merged),
    phases: merged,
  };
  process.stdout.write(`${renderSummary(results, ran)}\n`);
  const took = formatDuration(Date.now() - started);
  if (flags.profile || flags.noWrite) {
    const why = flags.profile ? 'profiled run' : '--no-write';
    process.stdout.write(`\n${why} (${took}): results and BENCHMARKS.md were not written.\n`);
    return;
  }
  const path = writeResults('relay', results);
  updateSection('relay', renderMarkdown(results));
  process.stdout.write(`\nWrote ${path} and the relay section of BENCHMARKS.md (${took}).\n`);
}

runBenchMain('relay', main);
