/**
 * `npm run bench -- cluster`: relays sharing one Redis registry, a client entering through any of
 * them. Latency and throughput through a relay that does not hold the name, failover after kill -9
 * of the holder, all names back after Redis restarts empty, registrations/s with Redis against
 * memory, what the registry costs in Redis, and how devices spread when one relay dies. The
 * method is bench/cluster.md.
 */

import { type ClusterFailoverResult, measureClusterFailover } from './cluster/failover.js';
import { CLUSTER_FLAGS, type ClusterFlags } from './cluster/flags.js';
import { attemptCounts, ms0 } from './cluster/notes.js';
import {
  type ClusterLatencyResult,
  type ClusterThroughputResult,
  holdOnA,
  measureClusterLatency,
  measureClusterThroughput,
} from './cluster/paths.js';
import {
  measureRedisRestart,
  measureRegistrations,
  type RedisCostResult,
  type RegistrationsResult,
} from './cluster/registry.js';
import { spread } from './cluster/spread-phase.js';
import { startCluster } from './cluster/world.js';
import { intervalText } from './lib/flags.js';
import { BenchUsageError } from './lib/report.js';
import { defineBench, definePhase, runBench, status } from './lib/runner.js';
import { f1, f2, n0, signed } from './relay/results.js';

type Flags = ClusterFlags;

/** A stored duration flag as the user would write it (`15000ms` → `15s`). */
const durText = (d: string) => d.replace(/^(\d+)000ms$/, '$1s');

const latency = definePhase<Flags, ClusterLatencyResult>({
  name: 'latency',
  title: 'Latency: `ssh -J B dev1 true` with dev1 held on A',
  async measure(scope, { flags, log }) {
    log('latency: Redis, relays A and B, the device agent on A');
    const cluster = await startCluster(scope, {
      relays: 2,
      ttl: intervalText(flags.ttl),
      heartbeat: intervalText(flags.heartbeat),
    });
    await holdOnA(cluster);
    const r = await measureClusterLatency(cluster, { runs: flags.runs, log });
    const [b, a] = r.paths as [ClusterLatencyResult['paths'][0], ClusterLatencyResult['paths'][0]];
    return {
      result: r,
      targets: [
        {
          id: 'entry-latency',
          target: 'entering through B adds ≤ 10 ms p50 over entering through A (the holder)',
          measured: `${signed(r.addedP50Ms)} ms (p50 ${f1(b.p50Ms)} ms through B vs ${f1(a.p50Ms)} ms through A)`,
          status: status(r.addedP50Ms <= 10),
        },
      ],
    };
  },
  tables: (r) => [
    {
      headers: ['path', 'runs', 'p50 ms', 'p95 ms', 'min ms', 'max ms'],
      rows: r.paths.map((p) => [
        p.path === 'via-b' ? 'ssh -J B dev1 (B → peer link → A)' : 'ssh -J A dev1 (the holder)',
        p.runs,
        f1(p.p50Ms),
        f1(p.p95Ms),
        f1(p.minMs),
        f1(p.maxMs),
      ]),
      notes: [`B adds ${signed(r.addedP50Ms)} ms p50; ${r.warmup} warm-up rounds not counted.`],
    },
  ],
});

const FORM_LABEL = {
  'via-b': 'burrow: ssh -J B dev1 (B → A → device)',
  'via-a': 'burrow: ssh -J A dev1 (one hop, for reference)',
  'openssh-2hop': 'OpenSSH: ssh -J r1,r2 (two sshd jumphosts)',
} as const;

/** Two relays against one: the throughput kept, and what both relays spend per GiB together. */
function twoRelaysNote(r: ClusterThroughputResult): string {
  const two = r.forms.find((f) => f.form === 'via-b');
  const one = r.forms.find((f) => f.form === 'via-a');
  if (!two || !one) return 'Two relays against one: not measured (a path is missing).';
  const both = two.medianHopCpuSecondsPerGiB.reduce((a, b) => a + b, 0);
  return (
    `Through two relays (B → A) ${n0((100 * two.medianMiBps) / one.medianMiBps)}% of the MiB/s through A alone; ` +
    `both relays together ${f2(both)} CPU-s per GiB (A alone ${f2(one.medianHopCpuSecondsPerGiB[0]!)}).`
  );
}

/** The cost of the second relay: through B → A against through A alone, in the same run. */
function twoRelaysTarget(r: ClusterThroughputResult) {
  const target = 'through B → A ≥ 80% of the MiB/s through A alone (one relay)';
  const two = r.forms.find((f) => f.form === 'via-b');
  const one = r.forms.find((f) => f.form === 'via-a');
  if (!two || !one) {
    return { id: 'two-relays-vs-one', target, measured: 'not measured', status: status(false) };
  }
  const share = two.medianMiBps / one.medianMiBps;
  return {
    id: 'two-relays-vs-one',
    target,
    measured: `${n0(100 * share)}% (${n0(two.medianMiBps)} vs ${n0(one.medianMiBps)} MiB/s)`,
    status: status(share >= 0.8),
  };
}

const throughput = definePhase<Flags, ClusterThroughputResult>({
  name: 'throughput',
  title: 'Throughput: bulk data through B → A to the device',
  async measure(scope, { flags, log }) {
    log('throughput: Redis, relays A and B, agent on A, two OpenSSH jumphosts');
    const cluster = await startCluster(scope, {
      relays: 2,
      ttl: intervalText(flags.ttl),
      heartbeat: intervalText(flags.heartbeat),
    });
    await holdOnA(cluster);
    const r = await measureClusterThroughput(scope, cluster, {
      bytes: flags.size,
      rounds: flags.rounds,
      log,
    });
    const m = (f: string) => r.forms.find((x) => x.form === f)!;
    return {
      result: r,
      targets: [
        {
          id: 'two-hop-throughput',
          target: 'through B → A ≥ 1.5× the MiB/s of OpenSSH `ssh -J r1,r2`',
          measured: `${f2(r.ratio)}× (${n0(m('via-b').medianMiBps)} vs ${n0(m('openssh-2hop').medianMiBps)} MiB/s)`,
          status: status(r.ratio >= 1.5),
        },
        twoRelaysTarget(r),
      ],
    };
  },
  tables: (r) => [
    {
      headers: ['path', 'MiB/s (median)', 'CPU-s per GiB, first hop', 'CPU-s per GiB, second hop'],
      rows: r.forms.map((f) => [
        FORM_LABEL[f.form],
        n0(f.medianMiBps),
        `${f2(f.medianHopCpuSecondsPerGiB[0]!)} (${f.form === 'openssh-2hop' ? 'r1 sshd' : f.form === 'via-b' ? 'relay B' : 'relay A'})`,
        f.medianHopCpuSecondsPerGiB[1] === undefined
          ? '—'
          : `${f2(f.medianHopCpuSecondsPerGiB[1])} (${f.form === 'openssh-2hop' ? 'r2 sshd' : 'relay A'})`,
      ]),
      notes: [
        `${n0(r.bytes / 2 ** 20)} MiB per transfer, ${r.rounds} rounds per path, interleaved; through B is ${f2(r.ratio)}× the OpenSSH two-hop jump.`,
        twoRelaysNote(r),
      ],
    },
  ],
});

const failover = definePhase<Flags, ClusterFailoverResult>({
  name: 'failover',
  title: 'Failover: kill -9 of the holder, operator entering through B',
  async measure(scope, { flags, log }) {
    const r = await measureClusterFailover(scope, {
      kills: flags.kills,
      ttl: intervalText(flags.ttl),
      heartbeat: intervalText(flags.heartbeat),
      log,
    });
    return {
      result: r,
      targets: [
        {
          id: 'failover-p99',
          target: `p99 ≤ 1 s from kill -9 to \`ssh -J B dev1 true\` working again, over ≥ 20 kills`,
          measured: `p99 ${ms0(r.viaB.p99Ms)} over ${r.kills} kills (through the new holder: p99 ${ms0(r.viaHolder.p99Ms)})`,
          status: status(r.viaB.p99Ms <= 1000 && r.viaB.capped === 0),
          ...(r.kills < 20 ? { note: `${r.kills} kills` } : {}),
        },
      ],
    };
  },
  tables: (r) => [
    {
      headers: ['operator enters through', 'kills', 'p50', 'p90', 'p99', 'max', 'capped'],
      rows: [
        ['B (never the holder)', r.viaB] as const,
        ['the new holder (baseline)', r.viaHolder] as const,
      ].map(([label, s]) => [
        label,
        s.count,
        ms0(s.p50Ms),
        ms0(s.p90Ms),
        ms0(s.p99Ms),
        ms0(s.maxMs),
        s.capped,
      ]),
      notes: [
        `Agent on [A, C]; both operators poll at once from the kill; --registry-ttl ${durText(r.ttl)}, ` +
          `--heartbeat-interval ${durText(r.heartbeat)}.`,
        `Attempts until the first success: through B ${attemptCounts(r.samples.map((x) => x.viaB.attempts))}; ` +
          `through the new holder ${attemptCounts(r.samples.map((x) => x.viaHolder.attempts))}. ` +
          'A figure includes that whole `ssh … true` run (see the latency phase for its length).',
      ],
    },
  ],
});

const redisRestart = definePhase<Flags, RedisCostResult>({
  name: 'redis-restart',
  title: 'Redis restarted empty, and what the registry costs in Redis',
  async measure(scope, { flags, log }) {
    const r = await measureRedisRestart(scope, {
      names: flags.names,
      concurrency: flags.concurrency,
      ttl: intervalText(flags.ttl),
      heartbeatMs: flags.heartbeat,
      idleWindowS: flags['idle-window'],
      log,
    });
    const limit = r.heartbeatMs + 1000;
    return {
      result: r,
      targets: [
        {
          id: 'redis-restart',
          target: `all ${n0(r.names)} names resolvable again ≤ heartbeat + 1 s (${n0(limit)} ms) after Redis restarts empty`,
          measured: `${ms0(r.restoreMs)}; ${r.droppedAfterRestart} connections dropped`,
          status: status(
            r.restoreMs !== null && r.restoreMs <= limit && r.droppedAfterRestart === 0,
          ),
        },
      ],
    };
  },
  tables: (r) => [
    {
      title: 'Recovery',
      headers: ['names', 'heartbeat', 'all names back after', 'connections dropped'],
      rows: [[n0(r.names), `${n0(r.heartbeatMs)} ms`, ms0(r.restoreMs), r.droppedAfterRestart]],
    },
    {
      title: 'Cost in Redis',
      headers: ['figure', 'measured', 'for 1 million devices'],
      rows: costRows(r),
      notes: [
        'Commands are INFO stats total_commands_processed: Redis counts every command a Lua script runs, so this ' +
          'is the work Redis does. An idle heartbeat is one script call (about 7 commands) whatever the relay ' +
          `holds; a relay sends its names only when Redis may have lost them, and every ${n0(r.resyncEveryMs / 1000)} s ` +
          'regardless (the belt), a reconcile costing a few commands per name, measured here as the one that ' +
          'republished every name after the restart. The 1 million column assumes relays of ' +
          `${n0(r.names)} devices each (${n0(1e6 / r.names)} relays) at the same heartbeat interval.`,
      ],
    },
  ],
});

/** The cost table's rows; the 1 million column scales by relays of `r.names` devices each. */
function costRows(r: RedisCostResult): (string | number)[][] {
  const relays = 1e6 / r.names;
  const per10k = 10_000 / r.names;
  const belt =
    r.reconcileCommands === null ? undefined : r.reconcileCommands / (r.resyncEveryMs / 1000);
  return [
    [
      `used_memory per name (${n0(r.names)} names: ${f1(r.usedMemoryBefore / 2 ** 20)} → ${f1(r.usedMemoryAfter / 2 ** 20)} MiB)`,
      `${n0(r.bytesPerName)} B`,
      `${f1((r.bytesPerName * 1e6) / 2 ** 20)} MiB`,
    ],
    [
      `idle commands/s, one relay holding ${n0(r.names)} names (heartbeat ${n0(r.heartbeatMs)} ms, ${r.idleWindowS} s window)`,
      f1(r.commandsPerSec),
      n0(r.commandsPerSec * relays),
    ],
    ...(belt === undefined || r.reconcileCommands === null
      ? []
      : [
          [
            `one reconcile of ${n0(r.names)} names (after a restart; the belt every ${n0(r.resyncEveryMs / 1000)} s)`,
            `${n0(r.reconcileCommands)} commands`,
            `${n0(r.reconcileCommands * relays)} commands`,
          ],
          [
            'commands/s per 10 000 idle devices: heartbeats plus the belt amortized',
            f1((r.commandsPerSec + belt) * per10k),
            n0((r.commandsPerSec + belt) * relays),
          ],
        ]),
    [
      'EVALSHA/EVAL calls/s the relay sent while idle',
      f1(r.scriptCallsPerSec),
      n0(r.scriptCallsPerSec * relays),
    ],
    [
      'redis-server CPU over the idle window (% of one core)',
      `${f1(r.redisCpuPercent)}%`,
      `${f1(r.redisCpuPercent * relays)}%`,
    ],
  ];
}

const registrations = definePhase<Flags, RegistrationsResult>({
  name: 'registrations',
  title: 'Registrations/s on one relay: Redis registry against memory',
  async measure(scope, { flags, log }) {
    const r = await measureRegistrations(scope, {
      devices: flags.devices,
      concurrency: flags.concurrency,
      rounds: flags['reg-rounds'],
      log,
    });
    const failed = r.runs.reduce((n, x) => n + x.failed, 0);
    return {
      result: r,
      targets: [
        {
          id: 'registrations-ratio',
          target: 'registrations/s with Redis ≥ 90% of the memory registry',
          measured: `${f1(r.ratio * 100)}% (${n0(r.redisPerSec)}/s vs ${n0(r.memoryPerSec)}/s; ${failed} failed)`,
          status: status(r.ratio >= 0.9 && failed === 0),
        },
      ],
    };
  },
  tables: (r) => [
    {
      headers: ['registry', 'round', 'registered', 'failed', 'seconds', 'registrations/s'],
      rows: r.runs.map((x) => [
        x.registry,
        x.round,
        n0(x.registered),
        x.failed,
        f1(x.seconds),
        n0(x.perSec),
      ]),
      notes: [
        `${n0(r.devices)} devices per run, ${r.concurrency} in flight; the load generator runs on the same machine.`,
        `Redis / memory: ${f1(r.ratio * 100)}% (medians over ${r.runs.length / 2} pair(s) of runs).`,
      ],
    },
  ],
});

runBench(
  defineBench({
    name: 'cluster',
    title: 'cluster: relays sharing one Redis registry, entered through any of them',
    after: 'failover',
    flags: CLUSTER_FLAGS,
    check(flags) {
      if (flags.heartbeat * 2 >= flags.ttl) {
        throw new BenchUsageError(
          `--heartbeat: must be under half of --ttl (${intervalText(flags.ttl)}), got ${intervalText(flags.heartbeat)}`,
        );
      }
    },
    epilogue:
      'With --size 256M the whole run took 4m 50s on a shared 2-core machine; the default 1G adds ' +
      'about two minutes there.',
    phases: [latency, throughput, failover, redisRestart, registrations, spread],
  }),
);
