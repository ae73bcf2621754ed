/**
 * The `window` and `idle-keys` phases of `npm run bench -- abuse`, around the measurements in
 * window.ts and idle-keys.ts. Neither has an OpenSSH run: the window attack's baseline is the
 * relay's own memory before it, and the idle crowd's is the same ssh's latency without it, both
 * in the same run.
 */
import { definePhase, status } from '../lib/runner.js';
import { type IdleKeysResult, measureIdleKeys } from './idle-keys.js';
import type { AbuseFlags } from './phases.js';
import { measureWindowAttack, type WindowAttackResult } from './window.js';

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

export const windowPhase = definePhase<AbuseFlags, WindowAttackResult>({
  name: 'window',
  title: 'Phase window: raw channel data past the window',
  async measure(_scope, ctx) {
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
  tables(r) {
    return [{ headers: WINDOW_HEADERS, rows: [windowRow(r)] }];
  },
});

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

export const idleKeysPhase = definePhase<AbuseFlags, IdleKeysResult>({
  name: 'idle-keys',
  title: `Phase idle-keys: ${IDLE_CONNECTIONS} idle authenticated connections`,
  async measure(_scope, ctx) {
    const result = await measureIdleKeys({
      connections: IDLE_CONNECTIONS,
      keys: IDLE_KEYS,
      runs: ctx.flags['quiet-runs'],
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
  tables(r) {
    return [{ headers: IDLE_HEADERS, rows: [idleRow(r)] }];
  },
});
