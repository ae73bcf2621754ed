/**
 * The phases of `npm run bench -- relay` (throughput, latency, idle devices, negotiated
 * algorithms) and their flags. The measurements are in throughput.ts, latency.ts, idle.ts,
 * idle-openssh.ts and ciphers.ts; the tables in tables.ts; the method is bench/relay.md.
 */
import { generateKey, type Scope, tmpDir } from '../../test/helpers/index.js';
import { definePhase, type FlagSpecs, type FlagValues } from '../lib/runner.js';
import { type CipherReport, probeCiphers } from './ciphers.js';
import { measureIdle } from './idle.js';
import { measureOpensshIdle } from './idle-openssh.js';
import { type LatencyResult, measureLatency } from './latency.js';
import {
  type IdlePhaseResult,
  idleTargets,
  latencyTargets,
  type Run,
  throughputTargets,
} from './results.js';
import { cipherTable, idleTables, latencyTable, throughputTable } from './tables.js';
import { measureThroughput, type ThroughputResult } from './throughput.js';
import { startWorld, type World } from './world.js';

export const RELAY_FLAGS = {
  size: { type: 'size', default: '1G', help: 'bytes per throughput transfer; K/M/G suffixes' },
  rounds: {
    type: 'count',
    default: 3,
    help: 'throughput rounds per path; the median is reported',
  },
  'latency-runs': { type: 'count', default: 30, help: 'ssh … true runs per path' },
  devices: { type: 'count', default: 10_000, help: 'idle devices on one relay' },
  concurrency: { type: 'count', default: 64, help: 'load generator connections in flight' },
  'idle-window': {
    type: 'count',
    default: 15,
    min: 3,
    help: 'seconds of idleness sampled for RSS and CPU',
  },
  'openssh-devices': {
    type: 'count',
    default: 200,
    min: 0,
    help: 'ssh -N -R tunnels for the OpenSSH memory comparison; 0 skips',
  },
  'relay-ciphers': {
    type: 'string',
    metavar: 'LIST',
    help: "pass --ciphers LIST to the relays (default: the relay's own default)",
  },
} as const satisfies FlagSpecs;
type Flags = typeof RELAY_FLAGS;

const relayArgs = (flags: FlagValues<Flags>): string[] =>
  flags['relay-ciphers'] ? ['--ciphers', flags['relay-ciphers']] : [];

/** The device sshd, the relay, the OpenSSH jumphost and the device's tunnels, in `scope`. */
function world(scope: Scope, flags: FlagValues<Flags>, log: (msg: string) => void) {
  log('starting device sshd, burrow relay, OpenSSH jumphost and the device tunnels');
  return startWorld(scope, { relayArgs: relayArgs(flags) });
}

export const throughputPhase = definePhase<Flags, ThroughputResult>({
  name: 'throughput',
  title: 'Throughput to the device',
  async measure(scope, { flags, log }) {
    const w: World = await world(scope, flags, log);
    const result = await measureThroughput(scope, w, {
      bytes: flags.size,
      rounds: flags.rounds,
      log,
    });
    return { result, targets: throughputTargets(result) };
  },
  tables: (r) => [throughputTable(r)],
});

export const latencyPhase = definePhase<Flags, LatencyResult>({
  name: 'latency',
  title: 'Connection latency: `ssh <path> root@dev true`',
  async measure(scope, { flags, log }) {
    const w = await world(scope, flags, log);
    const result = await measureLatency(scope, w, { runs: flags['latency-runs'], log });
    return { result, targets: latencyTargets(result) };
  },
  tables: (r) => [latencyTable(r)],
});

export const idlePhase = definePhase<Flags, IdlePhaseResult>({
  name: 'idle',
  title: 'Idle devices on one relay process',
  async measure(scope, { flags, log, command, machine, previous }) {
    const dir = await tmpDir(scope, 'burrow-bench-idle-');
    let t0 = Date.now();
    const run = <T>(result: T): Run<T> => ({
      date: new Date(t0).toISOString(),
      command,
      machine,
      durationS: Math.round((Date.now() - t0) / 100) / 10,
      result,
    });
    const { result: relay, relayProc } = await measureIdle(scope, dir, {
      devices: flags.devices,
      concurrency: flags.concurrency,
      idleWindowS: flags['idle-window'],
      relayArgs: relayArgs(flags),
      log,
    });
    const relayRun = run(relay);
    await relayProc.stop();
    let openssh: Run<OpensshIdle> | undefined;
    if (flags['openssh-devices'] > 0) {
      t0 = Date.now();
      const key = await generateKey(dir, 'openssh_idle_device_key');
      openssh = run(
        await measureOpensshIdle(scope, dir, {
          devices: flags['openssh-devices'],
          deviceKey: key,
          log,
        }),
      );
    }
    // Not measured this time (--openssh-devices 0): the stored comparison stays, with its date.
    const stored = previous?.result as IdlePhaseResult | undefined;
    openssh ??= stored?.openssh;
    const result: IdlePhaseResult = {
      relay,
      ...(openssh ? { openssh } : {}),
      runs: { ...(stored?.runs ?? {}), [String(relay.devices)]: relayRun },
    };
    return { result, targets: idleTargets(result) };
  },
  tables: (r) => idleTables(r),
});

type OpensshIdle = Awaited<ReturnType<typeof measureOpensshIdle>>;

export const ciphersPhase = definePhase<Flags, CipherReport>({
  name: 'ciphers',
  title: 'Negotiated algorithms (from `ssh -v`; every client and sshd at OpenSSH defaults)',
  async measure(scope, { flags, log }) {
    const w = await world(scope, flags, log);
    return { result: await probeCiphers(scope, w), targets: [] };
  },
  tables: (r) => [cipherTable(r)],
});
