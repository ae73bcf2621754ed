/**
 * Experiment, not a measured target: `npm run bench -- experiments/shim-startup [--rounds 10]`.
 * The fixed cost of a `burrow shim` session: `T dev1-direct true` for plain ssh and the shim on
 * each byte path, alternating, with the median wall time and the shim's extra over ssh.
 */
import { runCommand } from '../../test/helpers/index.js';
import { median, rotate } from '../lib/stats.js';
import { terminalTable } from '../lib/table.js';
import { FORMS_WITH_JAVASCRIPT, HOSTS } from '../shim/world.js';
import { runShimExperiment } from './shim-world.js';

runShimExperiment('shim-startup', async ({ scope, bw, rounds, log }) => {
  const times = new Map<string, number[]>();
  for (let round = 1; round <= rounds; round++) {
    for (const form of rotate(FORMS_WITH_JAVASCRIPT, round - 1)) {
      const t0 = performance.now();
      const r = await runCommand(scope, bw.transport[form], [HOSTS.direct, 'true'], {
        timeoutMs: 30_000,
      });
      const s = (performance.now() - t0) / 1000;
      if (r.code !== 0) throw new Error(`${form}: exit ${r.code}: ${r.stderr}`);
      times.set(form, [...(times.get(form) ?? []), s]);
      log(`round ${round}, ${form}: ${(s * 1000).toFixed(0)} ms`);
    }
  }
  const base = median(times.get('ssh')!);
  return terminalTable({
    headers: ['form', 'median ms', 'extra over ssh, ms'],
    rows: FORMS_WITH_JAVASCRIPT.map((f) => {
      const m = median(times.get(f)!);
      return [f, (m * 1000).toFixed(0), ((m - base) * 1000).toFixed(0)];
    }),
  });
});
