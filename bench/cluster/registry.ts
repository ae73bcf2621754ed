/**
 * What the shared registry costs and how it recovers: registrations/s on one relay with the
 * Redis registry against the memory registry; Redis memory per name and commands/s for idle
 * devices; all names back after Redis restarts empty. Devices are bench/loadgen.ts connections (one
 * ed25519 key each).
 */
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REGISTRY_NAME_KEY } from '../../src/core/constants.js';
import { RESYNC_FACTOR } from '../../src/registry/registry.js';
import { generateEd25519 } from '../../src/ssh/keys.js';
import { type Proc, type Scope, startProc, waitFor } from '../../test/helpers/index.js';
import type { RedisServer } from '../../test/helpers/redis.js';
import { cpuSeconds } from '../lib/procfs.js';
import { type Cluster, type ClusterRelay, startCluster } from './world.js';

const LOADGEN = new URL('../loadgen.js', import.meta.url).pathname;
export const LOAD_RELAY_ARGS = [
  '--max-startups',
  '4096:30:4096',
  '--max-startups-per-source',
  '100000',
];

export interface DeviceKey {
  name: string;
  privateKey: string;
  publicLine: string;
}

/** Keys are generated once per process and shared by the phases (prefix `n`). */
const keyCache: DeviceKey[] = [];
export function deviceKeys(n: number): DeviceKey[] {
  while (keyCache.length < n) {
    const name = `n${keyCache.length}`;
    const k = generateEd25519(name);
    keyCache.push({ name, privateKey: k.privateKey, publicLine: k.publicLine });
  }
  return keyCache.slice(0, n);
}

export const policyOf = (keys: readonly DeviceKey[]) =>
  keys.map((k) => `permitlisten="${k.name}:22" ${k.publicLine}`);

export function writeKeys(dir: string, keys: readonly DeviceKey[]): string {
  const path = join(dir, 'devices.jsonl');
  writeFileSync(
    path,
    `${keys.map((k) => JSON.stringify({ name: k.name, key: k.privateKey })).join('\n')}\n`,
    { mode: 0o600 },
  );
  return path;
}

export interface LoadgenDone {
  registered: number;
  failed: number;
  elapsedMs: number;
  ratePerSec: number;
}

/** Registers every key on `relay` through the load generator; the connections stay up. */
export async function register(
  scope: Scope,
  /** `addr` may list several relays, comma-separated: the load generator spreads over them. */
  relay: Pick<ClusterRelay, 'addr'>,
  keysPath: string,
  count: number,
  concurrency: number,
): Promise<{ done: LoadgenDone; loadgen: Proc }> {
  const loadgen = startProc(
    scope,
    process.execPath,
    [LOADGEN, '--relay', relay.addr, '--keys', keysPath, '--concurrency', String(concurrency)],
    { name: 'loadgen', maxLines: 200, stopGraceMs: 10_000 },
  );
  const line = await loadgen.waitForLine(/^\{"type":"done".*\}$/, {
    stream: 'stdout',
    timeoutMs: 60_000 + count * 20,
  });
  return { done: JSON.parse(line[0]) as LoadgenDone, loadgen };
}

/** Name records in Redis now. */
export function nameCount(redis: RedisServer): number {
  return Number(
    redis.cli('EVAL', "return #redis.call('keys', ARGV[1])", '0', `${REGISTRY_NAME_KEY}*`),
  );
}

/** Calls of client-sent commands (`INFO commandstats`): EVALSHA + EVAL, or all of them. */
function clientCalls(redis: RedisServer, only?: readonly string[]): number {
  let n = 0;
  for (const m of redis.cli('INFO', 'commandstats').matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (!only || only.includes(m[1]!)) n += Number(m[2]);
  }
  return n;
}

function info(redis: RedisServer, section: string, field: string): number {
  const m = new RegExp(`^${field}:(\\d+)`, 'm').exec(redis.cli('INFO', section));
  return m ? Number(m[1]) : Number.NaN;
}

export interface RegistrationRun {
  registry: 'memory' | 'redis';
  round: number;
  registered: number;
  failed: number;
  seconds: number;
  perSec: number;
}

export interface RegistrationsResult {
  devices: number;
  concurrency: number;
  runs: RegistrationRun[];
  memoryPerSec: number;
  redisPerSec: number;
  /** redis / memory (medians over the rounds). */
  ratio: number;
}

export async function measureRegistrations(
  scope: Scope,
  opts: { devices: number; concurrency: number; rounds: number; log: (msg: string) => void },
): Promise<RegistrationsResult> {
  const { devices, concurrency, rounds, log } = opts;
  const keys = deviceKeys(devices);
  const runs: RegistrationRun[] = [];
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? (['memory', 'redis'] as const) : (['redis', 'memory'] as const);
    for (const registry of order) {
      const cluster = await startCluster(scope, {
        relays: 1,
        registry,
        ttl: '15s',
        heartbeat: '5s',
        policy: policyOf(keys),
        relayArgs: LOAD_RELAY_ARGS,
      });
      const { done, loadgen } = await register(
        scope,
        cluster.relays[0]!,
        writeKeys(cluster.dir, keys),
        devices,
        concurrency,
      );
      runs.push({
        registry,
        round,
        registered: done.registered,
        failed: done.failed,
        seconds: done.elapsedMs / 1000,
        perSec: done.registered / (done.elapsedMs / 1000),
      });
      log(
        `registrations ${round}/${rounds} ${registry}: ${done.registered} in ${(done.elapsedMs / 1000).toFixed(1)} s (${done.ratePerSec}/s, ${done.failed} failed)`,
      );
      await loadgen.stop();
      await cluster.relays[0]!.proc!.stop();
      await cluster.redis.stop();
    }
  }
  const med = (r: 'memory' | 'redis') => {
    const v = runs
      .filter((x) => x.registry === r)
      .map((x) => x.perSec)
      .sort((a, b) => a - b);
    return v[Math.floor((v.length - 1) / 2)]!;
  };
  const memoryPerSec = med('memory');
  const redisPerSec = med('redis');
  return {
    devices,
    concurrency,
    runs,
    memoryPerSec,
    redisPerSec,
    ratio: redisPerSec / memoryPerSec,
  };
}

export interface RedisCostResult {
  names: number;
  heartbeatMs: number;
  usedMemoryBefore: number;
  usedMemoryAfter: number;
  bytesPerName: number;
  idleWindowS: number;
  /** `total_commands_processed`: counts every command a Lua script runs too. */
  commandsPerSec: number;
  commandsPerSecPer10k: number;
  /** EVALSHA/EVAL calls the relay sent (one per heartbeat, or per chunk when it reconciles), per second. */
  scriptCallsPerSec: number;
  /** Commands Redis ran for the reconcile that republished every name after the restart. */
  reconcileCommands: number | null;
  /** How often an idle relay reconciles anyway (RESYNC_FACTOR × --registry-ttl). */
  resyncEveryMs: number;
  /** redis-server's CPU over the idle window, in % of one core. */
  redisCpuPercent: number;
  /** ms from Redis answering again (empty) until every name is back. */
  restoreMs: number | null;
  restoreCapMs: number;
  droppedAfterRestart: number;
  registerSeconds: number;
}

export async function measureRedisRestart(
  scope: Scope,
  opts: {
    names: number;
    concurrency: number;
    ttl: string;
    heartbeatMs: number;
    idleWindowS: number;
    log: (msg: string) => void;
  },
): Promise<RedisCostResult> {
  const { names, log } = opts;
  const keys = deviceKeys(names);
  const cluster: Cluster = await startCluster(scope, {
    relays: 1,
    ttl: opts.ttl,
    heartbeat: `${opts.heartbeatMs}ms`,
    policy: policyOf(keys),
    relayArgs: LOAD_RELAY_ARGS,
  });
  const relay = cluster.relays[0]!;
  const { redis } = cluster;
  await sleep(opts.heartbeatMs + 500);
  const memBefore = info(redis, 'memory', 'used_memory');
  const { done, loadgen } = await register(
    scope,
    relay,
    writeKeys(cluster.dir, keys),
    names,
    opts.concurrency,
  );
  if (done.registered !== names) throw new Error(`only ${done.registered} of ${names} registered`);
  await waitFor(() => nameCount(redis) >= names, {
    what: `${names} names in Redis`,
    timeoutMs: 30_000,
  });
  // One heartbeat for the burst to settle, then memory and an idle window of commands.
  await sleep(opts.heartbeatMs);
  const memAfter = info(redis, 'memory', 'used_memory');
  log(`redis-restart: ${names} names registered; idle window ${opts.idleWindowS} s`);
  const c0 = info(redis, 'stats', 'total_commands_processed');
  const e0 = clientCalls(redis, ['evalsha', 'eval']);
  const cpu0 = cpuSeconds(redis.proc().pid) ?? Number.NaN;
  const t0 = performance.now();
  await sleep(opts.idleWindowS * 1000);
  const c1 = info(redis, 'stats', 'total_commands_processed');
  const e1 = clientCalls(redis, ['evalsha', 'eval']);
  const windowS = (performance.now() - t0) / 1000;
  const redisCpuPercent = (((cpuSeconds(redis.proc().pid) ?? Number.NaN) - cpu0) / windowS) * 100;
  // The INFO calls themselves are commands too (four).
  const commandsPerSec = (c1 - c0 - 4) / windowS;

  const closedBefore = await countClosed(relay.auditPath);
  await redis.restart();
  const r0 = performance.now();
  if (nameCount(redis) !== 0) throw new Error('Redis did not come back empty');
  const capMs = opts.heartbeatMs * 4 + 10_000;
  let restoreMs: number | null = null;
  let polls = 1;
  while (performance.now() - r0 < capMs) {
    polls += 1;
    if (nameCount(redis) >= names) {
      restoreMs = performance.now() - r0;
      break;
    }
    await sleep(50);
  }
  // The restarted server counts from zero: the reconcile, plus the client's reconnection and
  // the polls above (EVAL and the KEYS it runs, each) and this INFO.
  const sinceRestart = info(redis, 'stats', 'total_commands_processed');
  const reconcileCommands = restoreMs === null ? null : sinceRestart - 2 * polls - 1;
  log(
    `redis-restart: all ${names} names back ${restoreMs === null ? 'never (capped)' : `after ${Math.round(restoreMs)} ms`}`,
  );
  const dropped = (await countClosed(relay.auditPath)) - closedBefore;
  if (loadgen.exit) throw new Error(`the load generator exited:\n${loadgen.tail()}`);
  return {
    names,
    heartbeatMs: opts.heartbeatMs,
    usedMemoryBefore: memBefore,
    usedMemoryAfter: memAfter,
    bytesPerName: (memAfter - memBefore) / names,
    idleWindowS: opts.idleWindowS,
    commandsPerSec,
    commandsPerSecPer10k: (commandsPerSec * 10_000) / names,
    scriptCallsPerSec: (e1 - e0) / windowS,
    reconcileCommands,
    resyncEveryMs: RESYNC_FACTOR * parseInterval(opts.ttl),
    redisCpuPercent,
    restoreMs: restoreMs === null ? null : Math.round(restoreMs),
    restoreCapMs: capMs,
    droppedAfterRestart: dropped,
    registerSeconds: done.elapsedMs / 1000,
  };
}

/** `15s` or `1500ms` (the world's duration strings) in ms. */
function parseInterval(text: string): number {
  const m = /^(\d+)(ms|s)$/.exec(text);
  if (!m) throw new Error(`bad interval ${text}`);
  return Number(m[1]) * (m[2] === 's' ? 1000 : 1);
}

async function countClosed(auditPath: string): Promise<number> {
  try {
    return (await readFile(auditPath, 'utf8')).split('"event":"conn.closed"').length - 1;
  } catch {
    return 0;
  }
}
