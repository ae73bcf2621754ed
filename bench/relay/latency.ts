/**
 * Connection latency: wall time of `ssh … root@dev true` (process start to exit: both
 * handshakes, auth, a command round trip) through each hop and directly, interleaved round by
 * round so load on the shared machine hits every form alike.
 */
import type { Scope } from '../../test/helpers/index.js';
import { max, median, min, percentile, rotate } from '../lib/stats.js';
import { FORMS, type Form, type World } from './world.js';

const LATENCY_FORMS: readonly Form[] = [
  'direct',
  'direct-nc',
  'burrow',
  'openssh-sock',
  'openssh-port',
];

export interface LatencyForm {
  form: Form;
  runs: number;
  p50Ms: number;
  p95Ms: number;
  minMs: number;
  maxMs: number;
  /** p50 of this form minus p50 of the faster direct connection (≤ 0 for the direct forms). */
  addedP50Ms: number;
}

export interface LatencyResult {
  runs: number;
  warmup: number;
  forms: LatencyForm[];
  /** Every sample in ms, per form, in run order. */
  samplesMs: Record<string, number[]>;
}

export async function measureLatency(
  _scope: Scope,
  world: World,
  opts: { runs: number; warmup?: number; log: (msg: string) => void },
): Promise<LatencyResult> {
  const { runs, warmup = 3, log } = opts;
  const samples: Record<string, number[]> = {};
  for (const f of LATENCY_FORMS) samples[f] = [];
  for (let i = 0; i < warmup + runs; i++) {
    for (const form of rotate(LATENCY_FORMS, i)) {
      const t0 = performance.now();
      const r = await world.op.run([FORMS[form].host, 'true'], { timeoutMs: 30_000 });
      const ms = performance.now() - t0;
      if (r.code !== 0)
        throw new Error(`${form}: ssh … true failed (exit ${r.code}):\n${r.stderr}`);
      if (i >= warmup) samples[form]!.push(ms);
    }
    if ((i + 1 - warmup) % 10 === 0 && i >= warmup) {
      log(`latency: ${i + 1 - warmup}/${runs} rounds`);
    }
  }
  const directP50 = Math.min(median(samples.direct!), median(samples['direct-nc']!));
  return {
    runs,
    warmup,
    samplesMs: Object.fromEntries(
      Object.entries(samples).map(([f, v]) => [f, v.map((x) => Math.round(x * 10) / 10)]),
    ),
    forms: LATENCY_FORMS.map((form) => {
      const v = samples[form]!;
      const p50 = median(v);
      return {
        form,
        runs: v.length,
        p50Ms: p50,
        p95Ms: percentile(v, 95),
        minMs: min(v),
        maxMs: max(v),
        addedP50Ms: p50 - directP50,
      };
    }),
  };
}
