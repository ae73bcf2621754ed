/**
 * Placement requests/s on one coordinator: N names registered over three relays by the load
 * generator (real SSH registrations, so the Redis registry holds real records refreshed by the
 * relays' heartbeats), then G generator processes (placement-gen.ts) on this machine sharing C
 * keep-alive connections, each sending `GET /v1/placement?name=<a registered name, at random>`
 * as soon as the previous answer is read, for a fixed window after a warm-up. Every answer is
 * checked against where `/v1/names` says the name is held. Their latencies are pooled; the CPU
 * of the coordinator, Redis and the generators over the window is reported, so what limits the
 * rate is measured rather than guessed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Scope, startProc, waitFor } from '../../test/helpers/index.js';
import { register, writeKeys } from '../cluster/registry.js';
import { cpuSeconds } from '../lib/procfs.js';
import { percentile } from '../lib/stats.js';
import { startCoordinatorWorld } from './world.js';

const GENERATOR = new URL('./placement-gen.js', import.meta.url).pathname;

interface GeneratorOutput {
  latenciesMs: number[];
  errors: number;
  errorKinds: Record<string, number>;
  cpuMs: number;
}

/** `total` split into `parts` near-equal positive shares. */
function spread(total: number, parts: number): number[] {
  const n = Math.max(1, Math.min(parts, total));
  return Array.from({ length: n }, (_, i) => Math.floor(total / n) + (i < total % n ? 1 : 0));
}

export interface PlacementResult {
  names: number;
  connections: number;
  /** Generator processes the connections were spread over. */
  generators: number;
  seconds: number;
  requests: number;
  /** Answers in the window that were wrong or missing (all kinds of `errorKinds`). */
  errors: number;
  /** By kind: status (not 200), body (not JSON), wrong-first (not the holder), connection. */
  errorKinds: Record<string, number>;
  perSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The coordinator process's CPU over the measured window, % of one core. */
  coordinatorCpuPercent: number;
  /** redis-server's CPU over the window, % of one core. */
  redisCpuPercent: number;
  /** All generator processes' CPU over the window, % of one core. */
  generatorCpuPercent: number;
  /** 1-minute load average when the window began. */
  loadAvg1: number;
  /** Names held where placement put them first (checked on a sample): must be all. */
  heldFirst: { checked: number; ok: number };
}

interface Sample {
  status: number;
  body: string;
  ms: number;
}

function request(agent: Agent, url: string): Promise<Sample> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = get(url, { agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          ms: performance.now() - t0,
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/**
 * Where each name n0…n(count-1) is held, by relay address at index I, read page by page from
 * the coordinator's `/v1/names`; every name must be there.
 */
async function holders(base: string, count: number): Promise<string[]> {
  const at: string[] = [];
  let cursor: string | undefined;
  do {
    const res = await fetch(`${base}/v1/names?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
    const page = (await res.json()) as {
      names: { name: string; relay: { address: string | null } }[];
      cursor?: string;
    };
    for (const n of page.names) {
      const i = Number(n.name.slice(1));
      if (n.relay.address !== null && Number.isInteger(i)) at[i] = n.relay.address;
    }
    cursor = page.cursor;
  } while (cursor !== undefined);
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => at[i] === undefined);
  if (missing.length > 0) throw new Error(`${missing.length} names not listed by /v1/names`);
  return at;
}

export async function measurePlacement(
  scope: Scope,
  opts: {
    names: number;
    connections: number;
    generators: number;
    seconds: number;
    warmupSeconds: number;
    ttl: string;
    heartbeat: string;
    log: (msg: string) => void;
  },
): Promise<PlacementResult> {
  const { log } = opts;
  const w = await startCoordinatorWorld(scope, {
    devices: opts.names,
    ttl: opts.ttl,
    heartbeat: opts.heartbeat,
  });
  const { done } = await register(
    scope,
    { addr: w.cluster.relays.map((r) => r.addr).join(',') },
    writeKeys(w.cluster.dir, w.keys),
    opts.names,
    64,
  );
  if (done.registered !== opts.names) {
    throw new Error(`only ${done.registered} of ${opts.names} names registered`);
  }
  log(`placement: ${done.registered} names registered in ${(done.elapsedMs / 1000).toFixed(1)} s`);
  // Every relay's heartbeat has counted its names: the coordinator sees the cluster as it is.
  await waitFor(
    async () => {
      const res = await fetch(`${w.url}/v1/relays`);
      const body = (await res.json()) as { relays: { names: number }[] };
      return body.relays.reduce((n, r) => n + r.names, 0) >= opts.names;
    },
    { what: 'the relays to report every name', timeoutMs: 30_000 },
  );

  const names = w.keys.map((k) => k.name);
  // The generators draw names as n0…n(N-1), which is how deviceKeys names them.
  if (names.some((n, i) => n !== `n${i}`)) throw new Error('device names are not n0…n(N-1)');
  const holdersFile = join(w.cluster.dir, 'placement-holders.json');
  writeFileSync(holdersFile, JSON.stringify(await holders(w.url, names.length)));
  const per = spread(opts.connections, opts.generators);
  const warmupMs = opts.warmupSeconds * 1000;
  const measureMs = opts.seconds * 1000;
  // Generators need about a second to load; they all start on this wall-clock time.
  const startAt = Date.now() + 1500;
  const gens = per.map((connections, i) => {
    const out = join(w.cluster.dir, `placement-gen-${i}.json`);
    const proc = startProc(
      scope,
      process.execPath,
      [
        GENERATOR,
        ...['--url', w.url, '--holders', holdersFile],
        ...['--connections', String(connections), '--start-at', String(startAt)],
        ...['--warmup-ms', String(warmupMs), '--measure-ms', String(measureMs), '--out', out],
      ],
      { name: `placement-gen-${i}`, maxLines: 50 },
    );
    return { proc, out };
  });
  const pids = {
    coordinator: w.coordinator.pid,
    redis: w.cluster.redis.proc().pid,
  };
  await sleep(Math.max(0, startAt + warmupMs - Date.now()));
  const cpu0 = {
    c: cpuSeconds(pids.coordinator) ?? Number.NaN,
    r: cpuSeconds(pids.redis) ?? Number.NaN,
  };
  const load0 = loadavg()[0]!;
  await sleep(Math.max(0, startAt + warmupMs + measureMs - Date.now()));
  const cpu1 = {
    c: cpuSeconds(pids.coordinator) ?? Number.NaN,
    r: cpuSeconds(pids.redis) ?? Number.NaN,
  };
  const seconds = measureMs / 1000;
  const latencies: number[] = [];
  let errors = 0;
  const errorKinds: Record<string, number> = {};
  let generatorCpuMs = 0;
  for (const g of gens) {
    await g.proc.waitForLine(/^done$/, { stream: 'stdout', timeoutMs: 30_000 });
    const r = JSON.parse(readFileSync(g.out, 'utf8')) as GeneratorOutput;
    for (const x of r.latenciesMs) latencies.push(x);
    errors += r.errors;
    for (const [k, n] of Object.entries(r.errorKinds)) errorKinds[k] = (errorKinds[k] ?? 0) + n;
    generatorCpuMs += r.cpuMs;
  }
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });

  // Correctness on a sample: a held name is placed where it is held, first.
  const byAddr = new Map(w.cluster.relays.map((r) => [r.addr, r]));
  let ok = 0;
  const sample = names.slice(0, 200);
  for (const name of sample) {
    const [answer, record] = await Promise.all([
      request(agent, `${w.url}/v1/placement?name=${name}`),
      request(agent, `${w.url}/v1/names/${name}`),
    ]);
    const first = (JSON.parse(answer.body) as { relays: { address: string }[] }).relays[0];
    const held = (JSON.parse(record.body) as { relay: { address: string } }).relay.address;
    if (first && first.address === held && byAddr.has(held)) ok++;
  }
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const result: PlacementResult = {
    names: opts.names,
    connections: opts.connections,
    generators: gens.length,
    seconds,
    requests: latencies.length,
    errors,
    errorKinds,
    perSec: latencies.length / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.at(-1) ?? Number.NaN,
    coordinatorCpuPercent: ((cpu1.c - cpu0.c) / seconds) * 100,
    redisCpuPercent: ((cpu1.r - cpu0.r) / seconds) * 100,
    generatorCpuPercent: generatorCpuMs / 10 / seconds,
    loadAvg1: load0,
    heldFirst: { checked: sample.length, ok },
  };
  log(
    `placement: ${Math.round(result.perSec)}/s, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms, ${errors} errors; ` +
      `CPU % of a core: coordinator ${result.coordinatorCpuPercent.toFixed(0)}, redis ${result.redisCpuPercent.toFixed(0)}, ` +
      `generators ${result.generatorCpuPercent.toFixed(0)}; load ${load0.toFixed(2)}`,
  );
  return result;
}
