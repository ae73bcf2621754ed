/**
 * The `window` and `idle-keys` phases of `npm run bench -- abuse`, around the measurements in
 * window.ts and idle-keys.ts. Neither has an OpenSSH run: the window attack's baseline is the
 * relay's own memory before it, and the idle crowd's is the same ssh's latency without it, both
 * in the same run.
 */
import { mdTable, textTable } from '../lib/report.js';
import { type IdleKeysResult, measureIdleKeys } from './idle-keys.js';
import type { AbusePhase, PhaseRecord, Status } from './phases.js';
import { measureWindowAttack, type WindowAttackResult } from './window.js';

const status = (ok: boolean): Status => (ok ? 'PASS' : 'MISS');

/** Bytes the window attacker tries to push. */
const WINDOW_ATTACK_BYTES = 1024 ** 3;
/** RSS growth allowed while the attack runs: two windows each way and the streams' buffers. */
const WINDOW_RSS_BOUND_MIB = 64;

const WINDOW_HEADERS = ['pushed MiB', 'RSS before', 'peak', 'after', 'peer closed', 'ms'];
const windowRow = (r: WindowAttackResult) => [
  Math.round((r.bytesPushed / 1024 ** 2) * 10) / 10,
  r.rssBaselineMiB,
  r.rssPeakMiB,
  r.rssAfterMiB,
  r.peerClosed ? 'yes' : 'no',
  r.ms,
];

export const windowPhase: AbusePhase<WindowAttackResult> = {
  name: 'window',
  async run(ctx) {
    const result = await measureWindowAttack({ bytes: WINDOW_ATTACK_BYTES, log: ctx.log });
    const growth = Math.round((result.rssPeakMiB - result.rssBaselineMiB) * 10) / 10;
    return {
      result,
      targets: [
        {
          id: 'window-closed',
          target: 'a peer writing past the window is disconnected',
          measured: result.peerClosed ? 'disconnected' : 'still connected',
          status: status(result.peerClosed),
        },
        {
          id: 'window-rss',
          target: `relay RSS grows by <= ${WINDOW_RSS_BOUND_MIB} MiB while it tries 1 GiB`,
          measured: `+${growth} MiB (${result.rssBaselineMiB} -> ${result.rssPeakMiB} MiB)`,
          status: status(growth <= WINDOW_RSS_BOUND_MIB),
        },
      ],
    };
  },
  markdown(rec: PhaseRecord<WindowAttackResult>) {
    return [
      '### Phase window: raw channel data past the window',
      '',
      'An authenticated ssh2 client opens a channel to a registered device whose service does ' +
        'not read, then writes CHANNEL_DATA in 32 KiB − 1 byte packets ignoring the window the ' +
        'relay granted, up to 1 GiB; the relay (a `burrow relay` process) has its VmRSS sampled ' +
        'every 20 ms. A relay that buffered beyond the window would grow by all of it.',
      '',
      mdTable(WINDOW_HEADERS, [windowRow(rec.result)]),
    ];
  },
  summary(rec: PhaseRecord<WindowAttackResult>) {
    return [textTable(WINDOW_HEADERS, [windowRow(rec.result)])];
  },
};

/** Idle authenticated connections from do-nothing keys, and the keys they are spread over. */
const IDLE_CONNECTIONS = 1000;
const IDLE_KEYS = 16;
/** Loaded p50 allowed against quiet. */
const IDLE_RATIO = 1.5;

const IDLE_HEADERS = [
  'quiet p50 ms',
  'loaded p50 ms',
  'loaded p95 ms',
  'x quiet',
  'idle conns',
  'relay RSS MiB',
];
const ratioOf = (r: IdleKeysResult) => Math.round((r.loadedP50Ms / r.quietP50Ms) * 100) / 100;
const idleRow = (r: IdleKeysResult) => [
  r.quietP50Ms,
  r.loadedP50Ms,
  r.loadedP95Ms,
  ratioOf(r),
  r.connections,
  r.relayRssMiB,
];

export const idleKeysPhase: AbusePhase<IdleKeysResult> = {
  name: 'idle-keys',
  async run(ctx) {
    const result = await measureIdleKeys({
      connections: IDLE_CONNECTIONS,
      keys: IDLE_KEYS,
      runs: ctx.flags.quietRuns,
      log: ctx.log,
    });
    return {
      result,
      targets: [
        {
          id: 'idle-keys-latency',
          target: `ssh -J p50 with ${IDLE_CONNECTIONS} idle do-nothing connections <= ${IDLE_RATIO}x quiet`,
          measured: `${result.loadedP50Ms} ms vs ${result.quietP50Ms} ms (${ratioOf(result)}x)`,
          status: status(ratioOf(result) <= IDLE_RATIO),
        },
      ],
    };
  },
  markdown(rec: PhaseRecord<IdleKeysResult>) {
    return [
      `### Phase idle-keys: ${IDLE_CONNECTIONS} idle authenticated connections`,
      '',
      `\`ssh -J relay root@dev1 true\` (real OpenSSH) timed quiet, then while ` +
        `${IDLE_CONNECTIONS} connections from ${IDLE_KEYS} keys that may do nothing stay ` +
        'authenticated and idle (ssh2 clients answering keepalives), the relay started with ' +
        '`--max-connections-per-key` just fitting them.',
      '',
      mdTable(IDLE_HEADERS, [idleRow(rec.result)]),
    ];
  },
  summary(rec: PhaseRecord<IdleKeysResult>) {
    return [textTable(IDLE_HEADERS, [idleRow(rec.result)])];
  },
};
