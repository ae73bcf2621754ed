/**
 * Placement requests/s on one coordinator: N names registered over three relays by the load
 * generator (real SSH registrations, so the Redis registry holds real records refreshed by the
 * relays' heartbeats), then a closed-loop HTTP generator in the benchmark's own process: C
 * keep-alive connections, each sending `GET /v1/placement?name=<a registered name, at random>`
 * as soon as the previous answer is read, for a fixed time after a warm-up.
 */
import { Agent, get } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Scope, waitFor } from '../../test/helpers/index.js';
import { register, writeKeys } from '../cluster/registry.js';
import { cpuSeconds } from '../lib/procfs.js';
import { percentile } from '../lib/stats.js';
import { startCoordinatorWorld } from './world.js';

export interface PlacementResult {
  names: number;
  connections: number;
  seconds: number;
  requests: number;
  errors: number;
  perSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The coordinator process's CPU over the measured window, % of one core. */
  coordinatorCpuPercent: number;
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

export async function measurePlacement(
  scope: Scope,
  opts: {
    names: number;
    connections: number;
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

  const agent = new Agent({ keepAlive: true, maxSockets: opts.connections });
  const names = w.keys.map((k) => k.name);
  const pick = () => names[Math.floor(Math.random() * names.length)]!;
  const latencies: number[] = [];
  let errors = 0;
  let measuring = false;
  let stop = false;
  const loop = async () => {
    while (!stop) {
      try {
        const s = await request(agent, `${w.url}/v1/placement?name=${pick()}`);
        if (!measuring) continue;
        if (s.status === 200) latencies.push(s.ms);
        else errors++;
      } catch {
        if (measuring) errors++;
      }
    }
  };
  const loops = Array.from({ length: opts.connections }, loop);
  await sleep(opts.warmupSeconds * 1000);
  const pid = w.coordinator.pid;
  const cpu0 = cpuSeconds(pid) ?? Number.NaN;
  measuring = true;
  const t0 = performance.now();
  await sleep(opts.seconds * 1000);
  measuring = false;
  const seconds = (performance.now() - t0) / 1000;
  const cpu1 = cpuSeconds(pid) ?? Number.NaN;
  stop = true;
  await Promise.all(loops);

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
    seconds,
    requests: latencies.length,
    errors,
    perSec: latencies.length / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.at(-1) ?? Number.NaN,
    coordinatorCpuPercent: ((cpu1 - cpu0) / seconds) * 100,
    heldFirst: { checked: sample.length, ok },
  };
  log(
    `placement: ${Math.round(result.perSec)}/s, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms, ${errors} errors`,
  );
  return result;
}
