/** The spread phase of `npm run bench -- cluster`: devices after one of 3 relays dies. */
import { Scope } from '../../test/helpers/index.js';
import { intervalText } from '../lib/flags.js';
import { definePhase, status } from '../lib/runner.js';
import { signed } from '../relay/results.js';
import type { ClusterFlags } from './flags.js';
import { binomialNote, ms0 } from './notes.js';
import { measureSpread, type SpreadMode, type SpreadResult } from './spread.js';

interface SpreadPhaseResult {
  /** Agents with `--coordinator` (and their `--relay` list as the fallback): the target. */
  coordinator: SpreadResult;
  /** Agents with the `--relay` list alone (each shuffles it): for reference. */
  relayList: SpreadResult;
}

const worstOf = (r: SpreadResult) => Math.max(...Object.values(r.deviations).map(Math.abs));
const sharesOf = (r: SpreadResult) =>
  Object.entries(r.deviations)
    .map(([k, d]) => `${k} ${r.after[k] ?? 0} (${signed(d * 100)}%)`)
    .join(', ');

export const spread = definePhase<ClusterFlags, SpreadPhaseResult>({
  name: 'spread',
  title: 'Spread: devices after one of 3 relays dies',
  async measure(_scope, { flags, log }) {
    const run = async (mode: SpreadMode) => {
      // One world at a time: 60 agents of each mode together would not fit 2 cores.
      const scope = new Scope();
      try {
        return await measureSpread(scope, {
          mode,
          agents: flags.agents,
          ttl: intervalText(flags.ttl),
          heartbeat: intervalText(flags.heartbeat),
          log,
        });
      } finally {
        await scope.close();
      }
    };
    const relayList = await run('relay-list');
    const coordinator = await run('coordinator');
    return {
      result: { coordinator, relayList },
      targets: [
        {
          id: 'spread',
          target: 'each survivor holds half of the devices ± 15% (agents with --coordinator)',
          measured: `${sharesOf(coordinator)}; with --relay lists alone: ${sharesOf(relayList)}`,
          status: status(worstOf(coordinator) <= 0.15 && coordinator.settledMs !== null),
        },
      ],
    };
  },
  tables: (r) => [
    {
      headers: ['agents use', 'relay', 'agents before', 'agents after', 'off half by'],
      rows: (
        [
          ['--coordinator', r.coordinator],
          ['--relay list only', r.relayList],
        ] as const
      ).flatMap(([label, x]) =>
        Object.keys(x.before).map((k) => [
          label,
          k === x.killed ? `${k} (killed)` : k,
          x.before[k] ?? 0,
          x.after[k] ?? 0,
          k === x.killed ? '—' : `${signed((x.deviations[k] ?? 0) * 100)}%`,
        ]),
      ),
      notes: [
        `${r.coordinator.agents} burrow agent processes per run, each with --relay on all three relays; ` +
          'with --coordinator they ask `burrow coordinator` for a place at start and after the kill ' +
          '(naming the relay they lost, which it leaves out), the others rotate through their own shuffled list. ' +
          `All registered on a survivor ${ms0(r.coordinator.settledMs)} (--coordinator) and ` +
          `${ms0(r.relayList.settledMs)} (--relay list) after the kill.`,
        binomialNote(r.relayList.agents),
      ],
    },
  ],
});
