/**
 * Experiment, not a measured target: `npm run bench -- experiments/shim-profile [--size 1G] [--rounds 3]`.
 * What it showed: the shim's CPU goes to relaying on the event loop (stream reads and writes, syscalls), not to framing or the replay buffer; the alternatives it prompted are in BENCHMARKS.md's "What was tried for the shim's data path and did not help".
 *
 * `--profile`: where the shim's time goes, printed and not recorded (profiling slows the shim).
 * 1. Raw stream throughput without rsync: `head -c N /dev/zero | T dev1-direct 'cat >/dev/null'`
 *    for both transports, alternating, two rounds: what the shim's pipeline itself can carry.
 * 2. One rsync through `burrow shim` with its node processes (local side, holder) profiled, each
 *    profile summarised (self time by category and by function).
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { runCommand, type Scope } from '../../test/helpers/index.js';
import { summarizeProfile } from '../lib/cpuprofile.js';
import { rotate } from '../lib/stats.js';
import { terminalTable } from '../lib/table.js';
import { clearShimCpu, takeShimCpu, writeProfilerPreload } from '../shim/cpu.js';
import { rsyncArgs, transferTimeoutMs } from '../shim/no-faults.js';
import { runRsync, stderrTail } from '../shim/rsync.js';
import { type BenchWorld, FORMS, HOSTS } from '../shim/world.js';
import { runShimExperiment } from './shim-world.js';

async function stream(scope: Scope, bw: BenchWorld, transport: string): Promise<number> {
  const script =
    `set -o pipefail; head -c ${bw.bytes} /dev/zero | ${transport} ${HOSTS.direct} ` +
    `'cat > /dev/null'`;
  const t0 = performance.now();
  const r = await runCommand(scope, 'bash', ['-c', script], {
    timeoutMs: transferTimeoutMs(bw.bytes),
  });
  if (r.code !== 0)
    throw new Error(`stream through ${transport} failed (exit ${r.code}):\n${r.stderr}`);
  return (performance.now() - t0) / 1000;
}

export async function profileShim(
  scope: Scope,
  bw: BenchWorld,
  log: (msg: string) => void,
): Promise<string> {
  const out: string[] = [];
  const mib = bw.bytes / 2 ** 20;
  const rows: (string | number)[][] = [];
  for (let round = 1; round <= 2; round++) {
    for (const form of rotate(FORMS, round - 1)) {
      const s = await stream(scope, bw, bw.transport[form]);
      if (form === 'shim') await takeShimCpu(bw.cpuDir);
      log(`stream round ${round}, ${form}: ${s.toFixed(2)} s (${(mib / s).toFixed(0)} MiB/s)`);
      rows.push([round, form, s.toFixed(2), (mib / s).toFixed(0)]);
    }
  }
  out.push(`Raw stream, ${mib.toFixed(0)} MiB of zeros into 'cat > /dev/null' (no rsync):`);
  out.push(terminalTable({ headers: ['round', 'transport', 'seconds', 'MiB/s'], rows }));

  const profDir = join(bw.dir, 'profiles');
  const transport = bw.shimTransport('transport-shim-prof', [
    `--require=${writeProfilerPreload(bw.dir, profDir)}`,
  ]);
  clearShimCpu(bw.cpuDir);
  const dst = join(bw.dir, 'profiled.bin');
  log('rsync through burrow shim with --cpu-prof on its node processes');
  const run = await runRsync(scope, rsyncArgs(transport, bw.src, `${HOSTS.direct}:${dst}`), {
    timeoutMs: transferTimeoutMs(bw.bytes) * 2,
  });
  rmSync(dst, { force: true });
  if (run.code !== 0)
    throw new Error(`profiled rsync failed (exit ${run.code}):\n${stderrTail(run)}`);
  const cpu = await takeShimCpu(bw.cpuDir);
  out.push('');
  out.push(
    `Profiled rsync: ${run.seconds.toFixed(2)} s; CPU s local ${cpu.local?.toFixed(2)}, ` +
      `holder ${cpu.holder?.toFixed(2)} (profiling included)`,
  );
  const files = existsSync(profDir)
    ? readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'))
    : [];
  if (files.length === 0) out.push(`no CPU profile was written in ${profDir}`);
  for (const file of files) {
    const s = summarizeProfile(join(profDir, file), 12);
    out.push('');
    out.push(`${file}: ${s.busyMs} ms busy of ${s.totalMs} ms sampled`);
    out.push(
      terminalTable({
        headers: ['category', 'ms', '% busy'],
        rows: s.categories.map((c) => [c.category, c.ms, c.pctBusy]),
      }),
    );
    out.push(
      terminalTable({
        headers: ['function', 'where', 'ms', '% busy'],
        rows: s.top.map((t) => [t.fn, t.where, t.ms, t.pctBusy]),
      }),
    );
  }
  return out.join('\n');
}

runShimExperiment('shim-profile', ({ scope, bw, log }) => profileShim(scope, bw, log));
