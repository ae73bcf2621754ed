/**
 * N agents starting at once with `--coordinator`, three relays. N `burrow agent` processes do not
 * fit one 2-core machine, and N agents in one process make its event loop the bottleneck (the
 * answers to their placement questions wait unread behind N key exchanges), so the agents are
 * spread over P processes (agents-child.ts), each running its slice through the agent's library:
 * `startAgent` with `askPlacement`, the supervisor, placement client, host key check (a
 * known_hosts file) and SSH link that `burrow agent --coordinator` runs, one ed25519 key and one
 * name each, no `--relay` list. All start on one wall-clock time; the clock runs until every one
 * is registered (its supervisor says connected, which it does once the relay accepted every
 * forward, and a relay accepts only after claiming the name in Redis). Each agent's time is
 * split into the placement question, the key exchange and authentication with registration.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RESERVATION_MS } from '../../src/coordinator/placement.js';
import { type Scope, startProc } from '../../test/helpers/index.js';
import { nameCount, writeKeys } from '../cluster/registry.js';
import { cpuSeconds } from '../lib/procfs.js';
import { percentile } from '../lib/stats.js';
import type { AgentTrace } from './agents-child.js';
import { startCoordinatorWorld } from './world.js';

const CHILD = new URL('./agents-child.js', import.meta.url).pathname;

/** p50, p99 and max of one span of the agents' time, in ms. */
export interface Span {
  p50: number;
  p99: number;
  max: number;
}

function span(values: number[]): Span {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return { p50: percentile(v, 50), p99: percentile(v, 99), max: v.at(-1) ?? Number.NaN };
}

export interface AgentsResult {
  agents: number;
  /** Processes the agents were spread over. */
  processes: number;
  /** ms from the common start until every agent was registered; null when capped. */
  allRegisteredMs: number | null;
  capMs: number;
  /** Agents registered per relay alias. */
  perRelay: Record<string, number>;
  /** Agents registered when the clock stopped. */
  registered: number;
  /** Each relay's share of the registered agents minus a third, over a third (0.1 = +10%). */
  deviations: Record<string, number>;
  /** Placement questions asked in all (one per agent when nothing failed). */
  placements: number;
  placementErrors: number;
  /** Agents that met any error before registering (an attempt or a question that failed). */
  agentsWithAnError: number;
  namesInRedis: number;
  /** Last error of the agents not registered at the end, by reason. */
  pendingReasons: Record<string, number>;
  /** Last error met on the way by agents that did register, by reason. */
  errorReasons: Record<string, number>;
  /**
   * Where the registered agents' time went, ms: `registered` (start to connected), `beforeAsk`
   * (start to the question that led to the relay: earlier failures and backoff), `ask` (that
   * question), `keyExchange` (its answer to the relay's host key reaching the agent: TCP connect
   * and key exchange), `authRegister` (host key to connected: authentication, the relay's claim
   * of the name in Redis, its reply).
   */
  spans: Record<'registered' | 'beforeAsk' | 'ask' | 'keyExchange' | 'authRegister', Span>;
  /** 1-minute load average when the agents started. */
  loadAvg1: number;
  /** CPU seconds from the common start until every process was done: coordinator, relays, Redis. */
  cpuS: { coordinator: number; relays: number; redis: number };
}

export async function measureAgents(
  scope: Scope,
  opts: {
    agents: number;
    processes: number;
    /** Placement questions asked of the coordinator before the storm (0: a fresh one). */
    warmup: number;
    capS: number;
    ttl: string;
    heartbeat: string;
    log: (m: string) => void;
  },
): Promise<AgentsResult> {
  const { log } = opts;
  const w = await startCoordinatorWorld(scope, {
    devices: opts.agents,
    ttl: opts.ttl,
    heartbeat: opts.heartbeat,
  });
  const keysPath = writeKeys(w.cluster.dir, w.keys);
  if (opts.warmup > 0) {
    // A coordinator that has run a while has its code compiled; a fresh one compiles it while the
    // storm waits. Names nobody holds, so every question is ranked and reserved; the reservations
    // expire before the agents start.
    let next = 0;
    const ask = async () => {
      while (next < opts.warmup) {
        const res = await fetch(`${w.url}/v1/placement?name=warmup-${next++}`);
        await res.arrayBuffer();
      }
    };
    await Promise.all(Array.from({ length: 16 }, ask));
    await sleep(RESERVATION_MS + 500);
  }
  const capMs = opts.capS * 1000;
  const processes = Math.max(1, Math.min(opts.processes, opts.agents));
  // Each process needs about a second to load; they all start their agents at this time.
  const startAt = Date.now() + 2000;
  const children = Array.from({ length: processes }, (_, i) => {
    const from = Math.floor((i * opts.agents) / processes);
    const to = Math.floor(((i + 1) * opts.agents) / processes);
    const out = join(w.cluster.dir, `agents-${i}.json`);
    const proc = startProc(
      scope,
      process.execPath,
      [
        CHILD,
        ...['--keys', keysPath, '--from', String(from), '--to', String(to)],
        ...['--url', w.url, '--known-hosts', w.cluster.knownHosts],
        ...['--start-at', String(startAt), '--cap-ms', String(capMs), '--out', out],
      ],
      { name: `agents-${i}`, maxLines: 200, stopGraceMs: 10_000 },
    );
    return { proc, out };
  });
  const traces: AgentTrace[] = [];
  const cpuNow = () => ({
    coordinator: cpuSeconds(w.coordinator.pid) ?? Number.NaN,
    relays: w.cluster.relays.reduce((n, r) => n + (cpuSeconds(r.proc?.pid ?? -1) ?? Number.NaN), 0),
    redis: cpuSeconds(w.cluster.redis.proc().pid) ?? Number.NaN,
  });
  let loadAvg1 = Number.NaN;
  let cpu0 = cpuNow();
  setTimeout(() => {
    loadAvg1 = loadavg()[0]!;
    cpu0 = cpuNow();
  }, startAt - Date.now()).unref();
  for (const [i, c] of children.entries()) {
    await c.proc.waitForLine(/^done$/, { stream: 'stdout', timeoutMs: capMs + 30_000 });
    const t = JSON.parse(readFileSync(c.out, 'utf8')) as AgentTrace[];
    log(
      `agents: process ${i + 1}/${processes} done (${t.filter((x) => x.relay).length}/${t.length} registered)`,
    );
    traces.push(...t);
  }

  const cpu1 = cpuNow();
  const cpuS = {
    coordinator: cpu1.coordinator - cpu0.coordinator,
    relays: cpu1.relays - cpu0.relays,
    redis: cpu1.redis - cpu0.redis,
  };
  const perRelay: Record<string, number> = {};
  for (const r of w.cluster.relays) perRelay[r.alias] = 0;
  const pendingReasons: Record<string, number> = {};
  const errorReasons: Record<string, number> = {};
  const count = (m: Record<string, number>, k: string) => {
    m[k] = (m[k] ?? 0) + 1;
  };
  let placements = 0;
  let placementErrors = 0;
  const cols = {
    registered: [],
    beforeAsk: [],
    ask: [],
    keyExchange: [],
    authRegister: [],
  } as Record<keyof AgentsResult['spans'], number[]>;
  for (const t of traces) {
    placements += t.placements.length;
    placementErrors += t.placements.filter((p) => !p.ok).length;
    const r = w.cluster.relays.find((x) => x.addr === t.relay);
    if (!r || t.connectedMs === undefined) {
      count(pendingReasons, `${t.phase}: ${t.lastError ?? 'no error'}`);
      continue;
    }
    perRelay[r.alias]! += 1;
    if (t.lastError) count(errorReasons, t.lastError.replace(/127\.0\.0\.1:\d+/g, 'RELAY'));
    const asked = t.placements.filter((p) => p.ok).at(-1);
    const hostKey = t.hostKeyAt.at(-1);
    cols.registered.push(t.connectedMs);
    if (asked && hostKey !== undefined) {
      cols.beforeAsk.push(asked.at);
      cols.ask.push(asked.ms);
      cols.keyExchange.push(hostKey - (asked.at + asked.ms));
      cols.authRegister.push(t.connectedMs - hostKey);
    }
  }
  const registered = Object.values(perRelay).reduce((a, b) => a + b, 0);
  const allRegisteredMs =
    registered === opts.agents ? Math.max(...traces.map((t) => t.connectedMs ?? Number.NaN)) : null;
  // Shares of the agents registered when the clock stopped (all of them unless capped).
  const third = registered / 3;
  const deviations: Record<string, number> = {};
  for (const [k, n] of Object.entries(perRelay)) deviations[k] = (n - third) / third;
  const namesInRedis = nameCount(w.cluster.redis);
  const spans = {
    registered: span(cols.registered),
    beforeAsk: span(cols.beforeAsk),
    ask: span(cols.ask),
    keyExchange: span(cols.keyExchange),
    authRegister: span(cols.authRegister),
  };
  if (Object.keys(pendingReasons).length > 0) {
    log(`agents: not registered: ${JSON.stringify(pendingReasons)}`);
  }
  log(
    `agents: all registered ${allRegisteredMs === null ? 'never (capped)' : `after ${allRegisteredMs} ms`}; ${JSON.stringify(perRelay)}; ` +
      `${placements} placements (${placementErrors} failed); CPU s ${JSON.stringify(cpuS)}; spans ${JSON.stringify(spans)}; errors ${JSON.stringify(errorReasons)}`,
  );
  return {
    agents: opts.agents,
    processes,
    registered,
    allRegisteredMs,
    capMs,
    perRelay,
    deviations,
    placements,
    placementErrors,
    agentsWithAnError: traces.filter((t) => t.errors > 0).length,
    namesInRedis,
    pendingReasons,
    errorReasons,
    spans,
    loadAvg1,
    cpuS,
  };
}
