/**
 * Transfers through the cutting proxy (`dev1`): the operator's ssh connection to the relay runs
 * through a TCP proxy in this process, and `cutAll()` resets every connection through it (a TCP
 * RST to both ends) every `cutEveryMs`, the first one `cutEveryMs` after rsync starts. Three runs:
 * - reference: `burrow shim`, no cuts (what the proxy path costs by itself);
 * - shim: `burrow shim` with cuts: must exit 0 with a copy whose sha256 equals the source's;
 * - plain ssh with cuts (optional): expected to fail at the first cut; its exit code is reported.
 * All three run at the same rsync --bwlimit, chosen so that the transfer lasts about
 * CUT_SPAN intervals: however fast the machine, cuts land while rsync runs.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import type { Scope } from '../../test/helpers/index.js';
import { type ShimCpu, takeShimCpu } from './cpu.js';
import { rsyncArgs, transferTimeoutMs } from './no-faults.js';
import { runRsync, stderrTail } from './rsync.js';
import { sha256 } from './source.js';
import { type BenchWorld, type Form, HOSTS } from './world.js';

export const RECONNECT_LINE = /connection lost; reconnecting/;

/** How many cut intervals a cut run should last (so at least two cuts land in it). */
const CUT_SPAN = 2.5;

export interface CutRun {
  form: Form;
  cutting: boolean;
  seconds: number;
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  /** cutAll() calls while rsync ran (seconds since its start), and connections each reset. */
  cuts: { atS: number; connections: number }[];
  /** Connections the proxy accepted during the run: the first ssh plus every reconnect. */
  connections: number;
  /** Lines of rsync's stderr matching "connection lost; reconnecting" (the shim's notice). */
  reconnectLines: number;
  /** Whether the copy's sha256 equals the source's; null when there is no copy. */
  sha256Match: boolean | null;
  shimCpu: ShimCpu | null;
  stderrTail: string;
}

export interface CutResult {
  host: string;
  cutEveryMs: number;
  /** rsync's --bwlimit for these runs, KiB/s (absent in results from before it was used). */
  bwlimitKiBps?: number;
  reference: CutRun;
  shim: CutRun;
  plainSsh: CutRun | null;
}

async function cutRun(
  scope: Scope,
  bw: BenchWorld,
  opts: { form: Form; cutEveryMs: number | null; bwlimitKiBps: number; log: (msg: string) => void },
): Promise<CutRun> {
  const { form, cutEveryMs, bwlimitKiBps, log } = opts;
  const proxy = bw.world.proxy!;
  const dst = join(bw.dir, `cut-${form}.bin`);
  rmSync(dst, { force: true });
  const cuts: CutRun['cuts'] = [];
  const accepted0 = proxy.accepted;
  const t0 = performance.now();
  let cutter: NodeJS.Timeout | undefined;
  if (cutEveryMs !== null) {
    cutter = setInterval(() => {
      const connections = proxy.connections;
      proxy.cutAll();
      const atS = (performance.now() - t0) / 1000;
      cuts.push({ atS, connections });
      log(`  cut ${cuts.length} at ${atS.toFixed(1)} s (${connections} connection(s) reset)`);
    }, cutEveryMs);
  }
  let run: Awaited<ReturnType<typeof runRsync>>;
  try {
    const args = rsyncArgs(bw.transport[form], bw.src, `${HOSTS.proxied}:${dst}`);
    run = await runRsync(scope, [`--bwlimit=${bwlimitKiBps}`, ...args], {
      timeoutMs: transferTimeoutMs(bw.bytes) * 2,
      onStderrLine: (text, atS) => {
        if (RECONNECT_LINE.test(text)) log(`  ${atS.toFixed(1)} s: ${text}`);
      },
    });
  } finally {
    clearInterval(cutter);
  }
  const shimCpu = form === 'shim' ? await takeShimCpu(bw.cpuDir) : null;
  const copied = run.code === 0 && existsSync(dst);
  const sha256Match = copied ? (await sha256(dst)) === bw.srcSha256 : null;
  rmSync(dst, { force: true });
  return {
    form,
    cutting: cutEveryMs !== null,
    seconds: run.seconds,
    code: run.code,
    signal: run.signal,
    timedOut: run.timedOut,
    cuts,
    connections: proxy.accepted - accepted0,
    reconnectLines: run.stderr.filter((l) => RECONNECT_LINE.test(l.text)).length,
    sha256Match,
    shimCpu,
    stderrTail: stderrTail(run),
  };
}

function describe(r: CutRun): string {
  const exit = r.signal ? `signal ${r.signal}` : `exit ${r.code}`;
  const sha =
    r.sha256Match === null ? 'no copy' : r.sha256Match ? 'sha256 equal' : 'sha256 DIFFERS';
  return (
    `${r.seconds.toFixed(1)} s, ${exit}, ${r.cuts.length} cut(s), ${r.connections} connection(s), ` +
    `${r.reconnectLines} reconnect line(s), ${sha}`
  );
}

export async function measureCuts(
  scope: Scope,
  bw: BenchWorld,
  opts: { cutEveryMs: number; plainSsh: boolean; log: (msg: string) => void },
): Promise<CutResult> {
  const { cutEveryMs, log } = opts;
  const bwlimitKiBps = Math.max(1, Math.floor(bw.bytes / 1024 / ((CUT_SPAN * cutEveryMs) / 1000)));
  const at = { bwlimitKiBps, log };
  log(`through the proxy at ${bwlimitKiBps} KiB/s, no cuts (reference): burrow shim`);
  const reference = await cutRun(scope, bw, { form: 'shim', cutEveryMs: null, ...at });
  log(`  reference: ${describe(reference)}`);
  log(`through the proxy, cut every ${cutEveryMs / 1000} s: burrow shim`);
  const shim = await cutRun(scope, bw, { form: 'shim', cutEveryMs, ...at });
  log(`  shim with cuts: ${describe(shim)}`);
  let plainSsh: CutRun | null = null;
  if (opts.plainSsh) {
    log(`through the proxy, cut every ${cutEveryMs / 1000} s: plain ssh`);
    plainSsh = await cutRun(scope, bw, { form: 'ssh', cutEveryMs, ...at });
    log(`  plain ssh with cuts: ${describe(plainSsh)}`);
  }
  return { host: HOSTS.proxied, cutEveryMs, bwlimitKiBps, reference, shim, plainSsh };
}
