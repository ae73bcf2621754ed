/**
 * `npm run bench -- coordinator`: how fast one `burrow coordinator` answers placement over a
 * registry of 10 000 names, and how 1 000 agents starting at once with `--coordinator` land on
 * three relays. The method is bench/coordinator.md.
 */
import { type AgentsResult, measureAgents } from './coordinator/agents.js';
import { measurePlacement, type PlacementResult } from './coordinator/placement.js';
import { intervalText, REGISTRY_TIMING_FLAGS } from './lib/flags.js';
import { defineBench, definePhase, type FlagSpecs, runBench, status } from './lib/runner.js';
import { f1, f2, n0, signed } from './relay/results.js';

const FLAGS = {
  names: { type: 'count', default: 10_000, help: 'placement: names registered over 3 relays' },
  connections: {
    type: 'count',
    default: 8,
    help: 'placement: keep-alive HTTP connections, over all generator processes',
  },
  generators: {
    type: 'count',
    default: 1,
    help: 'placement: generator processes the connections are spread over',
  },
  seconds: { type: 'count', default: 10, help: 'placement: measured seconds (after 2 s warm-up)' },
  agents: { type: 'count', default: 1000, help: 'agents: agents started at once' },
  processes: {
    type: 'count',
    default: 8,
    help: 'agents: processes the agents are spread over',
  },
  warmup: {
    type: 'count',
    default: 0,
    min: 0,
    help: 'agents: placement questions asked before the agents start (0: a fresh coordinator)',
  },
  cap: { type: 'count', default: 60, help: 'agents: seconds before the wait is capped' },
  ...REGISTRY_TIMING_FLAGS,
} as const satisfies FlagSpecs;
type Flags = typeof FLAGS;

/** ` (2 × status, …)` for the kinds that occurred; records older than the kinds have none. */
const errorKinds = (kinds: Record<string, number> | undefined) => {
  const seen = Object.entries(kinds ?? {}).filter(([, n]) => n > 0);
  return seen.length === 0 ? '' : ` (${seen.map(([k, n]) => `${n} × ${k}`).join(', ')})`;
};

const placement = definePhase<Flags, PlacementResult>({
  name: 'placement',
  title: 'Placement requests/s on one coordinator',
  async measure(scope, { flags, log }) {
    const r = await measurePlacement(scope, {
      names: flags.names,
      connections: flags.connections,
      generators: flags.generators,
      seconds: flags.seconds,
      warmupSeconds: 2,
      ttl: intervalText(flags.ttl),
      heartbeat: intervalText(flags.heartbeat),
      log,
    });
    return {
      result: r,
      targets: [
        {
          id: 'placement-rate',
          target: `≥ 5 000 placements/s over ${n0(r.names)} registered names, p99 ≤ 10 ms`,
          measured: `${n0(r.perSec)}/s, p99 ${f2(r.p99Ms)} ms (${r.errors} errors)`,
          status: status(r.perSec >= 5000 && r.p99Ms <= 10 && r.errors === 0),
        },
      ],
    };
  },
  tables: (r) => [
    {
      headers: [
        'names',
        'generators × connections',
        'requests',
        'requests/s',
        'p50 ms',
        'p99 ms',
        'max ms',
        'coordinator CPU ms per request',
        'errors',
      ],
      rows: [
        [
          n0(r.names),
          `${r.generators} × ${r.connections / r.generators}`,
          n0(r.requests),
          n0(r.perSec),
          f2(r.p50Ms),
          f2(r.p99Ms),
          f1(r.maxMs),
          f2((r.coordinatorCpuPercent * 10) / r.perSec),
          r.errors,
        ],
      ],
      notes: [
        `CPU over the measured window, % of one core: coordinator ${n0(r.coordinatorCpuPercent)}%, ` +
          `redis-server ${n0(r.redisCpuPercent)}%, generators ${n0(r.generatorCpuPercent)}% ` +
          `(load average ${f2(r.loadAvg1)} as it began; the machine has 2 cores).`,
        `${f1(r.seconds)} s measured after a 2 s warm-up; names chosen at random among the registered ones. ` +
          `Every answer checked (status 200, JSON, first relay the one /v1/names says holds the name): ` +
          `${n0(r.requests)} right, ${r.errors} wrong or missing${errorKinds(r.errorKinds)}. ` +
          `Afterwards, held names placed where they are held, first: ${r.heldFirst.ok} of ${r.heldFirst.checked} checked.`,
      ],
    },
  ],
});

const SPANS = [
  ['registered', 'start → registered'],
  ['beforeAsk', 'start → the question that placed it (earlier failures, backoff)'],
  ['ask', 'that placement question'],
  ['keyExchange', "its answer → the relay's host key (TCP connect, key exchange)"],
  ['authRegister', 'host key → registered (authentication, claim in Redis, reply)'],
] as const;

/** The most frequent reasons, `n × reason; …`. */
const top = (m: Record<string, number>) =>
  Object.entries(m)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([k, n]) => `${n} × ${k}`)
    .join('; ');

const agents = definePhase<Flags, AgentsResult>({
  name: 'agents',
  title: 'Agents starting at once with --coordinator, 3 relays',
  async measure(scope, { flags, log }) {
    const r = await measureAgents(scope, {
      agents: flags.agents,
      processes: flags.processes,
      warmup: flags.warmup,
      capS: flags.cap,
      ttl: intervalText(flags.ttl),
      heartbeat: intervalText(flags.heartbeat),
      log,
    });
    const worst = Math.max(...Object.values(r.deviations).map(Math.abs));
    const shares = Object.entries(r.perRelay)
      .map(([k, n]) => `${k} ${n} (${signed((r.deviations[k] ?? 0) * 100)}%)`)
      .join(', ');
    return {
      result: r,
      targets: [
        {
          id: 'agents-registered',
          target: `all ${n0(r.agents)} agents registered ≤ 10 s`,
          measured:
            r.allRegisteredMs === null
              ? `not all within ${n0(r.capMs)} ms`
              : `${n0(r.allRegisteredMs)} ms`,
          status: status(r.allRegisteredMs !== null && r.allRegisteredMs <= 10_000),
        },
        {
          id: 'agents-spread',
          target: 'each relay holds a third of the agents ± 10%',
          measured: `${shares}${r.registered < r.agents ? ` (of the ${n0(r.registered)} registered)` : ''}`,
          status: status(worst <= 0.1 && r.registered === r.agents),
        },
      ],
    };
  },
  tables: (r) => [
    {
      headers: ['relay', 'agents', 'off a third by'],
      rows: Object.entries(r.perRelay).map(([k, n]) => [
        k,
        n,
        `${signed((r.deviations[k] ?? 0) * 100)}%`,
      ]),
      notes: [
        `${n0(r.agents)} agents spread over ${r.processes} processes, each running its share through the agent's library (see the method); ` +
          `all registered ${r.allRegisteredMs === null ? 'not within the cap' : `${n0(r.allRegisteredMs)} ms`} after the common start ` +
          `(load average ${f2(r.loadAvg1)} then); ` +
          `${n0(r.placements)} placement questions (${r.placementErrors} unanswered), ` +
          `${r.agentsWithAnError} agents met an error before registering; ${n0(r.namesInRedis)} names in Redis. ` +
          `CPU from the start until all were registered: coordinator ${f2(r.cpuS.coordinator)} s, ` +
          `the three relays ${f2(r.cpuS.relays)} s, redis-server ${f2(r.cpuS.redis)} s.`,
        ...(Object.keys(r.errorReasons).length > 0
          ? [`Last error met on the way by agents that registered: ${top(r.errorReasons)}.`]
          : []),
        ...(Object.keys(r.pendingReasons).length > 0
          ? [`Not registered at the cap, by phase and last error: ${top(r.pendingReasons)}.`]
          : []),
      ],
    },
    {
      title: "Where each registered agent's time went (ms after the common start)",
      headers: ['span', 'p50 ms', 'p99 ms', 'max ms'],
      rows: SPANS.map(([k, label]) => [
        label,
        n0(r.spans[k].p50),
        n0(r.spans[k].p99),
        n0(r.spans[k].max),
      ]),
      notes: [
        'The last four spans are those of the attempt that registered; they add up to its total ' +
          'except where an earlier relay of the same answer was tried first.',
      ],
    },
  ],
});

runBench(
  defineBench({
    name: 'coordinator',
    title: 'coordinator: placement over the shared registry',
    after: 'cluster',
    flags: FLAGS,
    epilogue: 'The status page and the auth webhook have their own figures, not measured here.',
    phases: [placement, agents],
  }),
);
