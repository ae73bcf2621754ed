/**
 * The status page's phase: a coordinator (startCoordinator, as `burrow coordinator` runs it) over
 * an in-memory registry holding `--names` names on `--relays` relays, asked for `GET /` and
 * `GET /?q=NAME` in turn over loopback HTTP by a client in the same process. Measured per
 * request: the server's own time (its `Server-Timing: page;dur=` header), the round trip, and
 * the body's bytes. Targets (issue: status page with 10 000 names): ≤ 100 ms, ≤ 200 KB.
 */
import { pino } from 'pino';
import { startCoordinator } from '../../src/coordinator/index.js';
import type { HeldRoute } from '../../src/registry/index.js';
import { MemoryRegistry } from '../../src/registry/memory.js';
import { type BenchTarget, definePhase, type FlagSpecs, status } from '../lib/runner.js';
import { max, percentile } from '../lib/stats.js';

export const STATUS_PAGE_FLAGS = {
  names: { type: 'count', default: 10_000, min: 1, help: 'names in the registry' },
  relays: { type: 'count', default: 3, min: 1, help: 'relays the names are spread over' },
  requests: { type: 'count', default: 300, min: 10, help: 'page requests of each kind' },
} as const satisfies FlagSpecs;

const TARGET_MS = 100;
const TARGET_BYTES = 200 * 1024;
const TTL_MS = 600_000;

interface Series {
  readonly kind: string;
  readonly serverMs: number[];
  readonly roundTripMs: number[];
  readonly bytes: number[];
}

export interface StatusPageResult {
  readonly names: number;
  readonly relays: number;
  readonly requests: number;
  readonly series: {
    kind: string;
    serverP50Ms: number;
    serverP99Ms: number;
    serverMaxMs: number;
    roundTripP50Ms: number;
    roundTripP99Ms: number;
    maxBytes: number;
  }[];
}

async function fill(registry: MemoryRegistry, names: number, relays: number): Promise<void> {
  for (let r = 0; r < relays; r++) {
    const held: HeldRoute[] = [];
    for (let i = r; i < names; i += relays) {
      held.push({ name: `dev-${i}`, port: 22, owner: `SHA256:owner${i % 97}` });
    }
    await registry.heartbeat(
      {
        relayId: `relay-${r}#bench`,
        address: `10.0.0.${r + 1}:2222`,
        names: held.length,
        connections: held.length,
        capacity: Math.ceil(names / relays) * 2,
        draining: false,
        version: 'bench',
        startedAt: Date.now(),
      },
      held,
      TTL_MS,
    );
  }
}

const fixed = (n: number) => Number(n.toFixed(2));

export const statusPagePhase = definePhase<FlagSpecs, StatusPageResult>({
  name: 'status-page',
  title: `Status page: server time and bytes (targets ≤ ${TARGET_MS} ms, ≤ 200 KB)`,
  async measure(scope, { flags, log }) {
    const names = Number(flags.names);
    const relays = Number(flags.relays);
    const requests = Number(flags.requests);
    const registry = new MemoryRegistry();
    scope.defer(() => registry.close(), 'registry');
    log(`filling the registry: ${names} names on ${relays} relays`);
    await fill(registry, names, relays);
    const coordinator = await startCoordinator(
      { host: '127.0.0.1', port: 0, publicPlacement: false, ttlMs: TTL_MS, version: 'bench' },
      { registry, log: pino({ level: 'silent' }) },
    );
    scope.defer(() => coordinator.close(), 'coordinator');
    const base = `http://127.0.0.1:${coordinator.address().port}`;
    const kinds = [
      { kind: 'GET /', path: () => '/' },
      { kind: 'GET /?q=NAME (found)', path: (i: number) => `/?q=dev-${(i * 7919) % names}` },
    ];
    const series: Series[] = kinds.map((k) => ({
      kind: k.kind,
      serverMs: [],
      roundTripMs: [],
      bytes: [],
    }));
    const warmup = 20;
    for (let i = 0; i < warmup + requests; i++) {
      for (const [j, k] of kinds.entries()) {
        const t0 = performance.now();
        const res = await fetch(base + k.path(i));
        const body = await res.text();
        const roundTrip = performance.now() - t0;
        if (res.status !== 200) throw new Error(`${k.kind}: HTTP ${res.status}`);
        if (j === 1 && !body.includes('id="found"')) throw new Error(`${k.kind}: name not found`);
        const dur = /page;dur=([\d.]+)/.exec(res.headers.get('server-timing') ?? '')?.[1];
        if (dur === undefined) throw new Error('no Server-Timing header');
        if (i < warmup) continue;
        const s = series[j]!;
        s.serverMs.push(Number(dur));
        s.roundTripMs.push(roundTrip);
        s.bytes.push(Buffer.byteLength(body));
      }
    }
    const result: StatusPageResult = {
      names,
      relays,
      requests,
      series: series.map((s) => ({
        kind: s.kind,
        serverP50Ms: fixed(percentile(s.serverMs, 50)),
        serverP99Ms: fixed(percentile(s.serverMs, 99)),
        serverMaxMs: fixed(max(s.serverMs)),
        roundTripP50Ms: fixed(percentile(s.roundTripMs, 50)),
        roundTripP99Ms: fixed(percentile(s.roundTripMs, 99)),
        maxBytes: max(s.bytes),
      })),
    };
    const worstMs = max(result.series.map((s) => s.serverP99Ms));
    const worstBytes = max(result.series.map((s) => s.maxBytes));
    const targets: BenchTarget[] = [
      {
        id: 'status-page-time',
        target: `server time p99 ≤ ${TARGET_MS} ms with ${names} names`,
        measured: `${worstMs} ms`,
        status: status(worstMs <= TARGET_MS),
      },
      {
        id: 'status-page-bytes',
        target: `page ≤ 200 KB with ${names} names`,
        measured: `${(worstBytes / 1024).toFixed(1)} KB`,
        status: status(worstBytes <= TARGET_BYTES),
      },
    ];
    return { result, targets };
  },
  tables(r) {
    return [
      {
        title: `${r.names} names on ${r.relays} relays, ${r.requests} requests of each kind`,
        headers: [
          'request',
          'server p50',
          'server p99',
          'server max',
          'round trip p50',
          'round trip p99',
          'bytes',
        ],
        rows: r.series.map((s) => [
          s.kind,
          `${s.serverP50Ms} ms`,
          `${s.serverP99Ms} ms`,
          `${s.serverMaxMs} ms`,
          `${s.roundTripP50Ms} ms`,
          `${s.roundTripP99Ms} ms`,
          `${(s.maxBytes / 1024).toFixed(1)} KB`,
        ]),
      },
    ];
  },
});
