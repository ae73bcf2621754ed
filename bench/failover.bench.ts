import { parseArgs } from 'node:util';

import { Scope } from '../test/helpers/index.js';
import { measureDrain } from './failover/drain.js';
import { measureProcessDeath } from './failover/process-death.js';
import { renderMarkdown, renderSummary } from './failover/render.js';
import {
  evaluateTargets,
  type FailoverPhases,
  type FailoverResults,
  PHASES,
  type Phase,
  type PhaseRecord,
} from './failover/results.js';
import { measureSilentLoss } from './failover/silent-loss.js';
import { parseCount } from './lib/flags.js';
import {
  BenchUsageError,
  formatDuration,
  publishResults,
  readResults,
  runBenchMain,
  startBench,
} from './lib/report.js';

const NAME = 'failover';
/** Fewest kills per system for a result that is written down. */
const MIN_RECORDED_KILLS = 20;
const LOSS_SAMPLES = 3;
const DRAINS = 6;

const USAGE = `usage: npm run bench -- failover [flags]

  --phases LIST   phases to run, comma-separated: ${PHASES.join(',')} (default: all)
  --kills N       process-death rounds per system (default ${MIN_RECORDED_KILLS}; fewer than
                  ${MIN_RECORDED_KILLS} only with --no-write)
  --no-write      print the summary only; leave results and BENCHMARKS.md alone
  --help

Silent loss takes ${LOSS_SAMPLES} samples per system, drain ${DRAINS} drains. About 7 minutes with
the defaults, most of it the recipe waiting out ServerAliveInterval and its 5 s restarts.`;

function parseFlags(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      phases: { type: 'string', default: PHASES.join(',') },
      kills: { type: 'string', default: String(MIN_RECORDED_KILLS) },
      'no-write': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const phases = values.phases.split(',').map((s) => s.trim()) as Phase[];
  for (const ph of phases) {
    if (!PHASES.includes(ph)) {
      throw new BenchUsageError(`--phases: unknown phase "${ph}"; known: ${PHASES.join(', ')}`);
    }
  }
  const kills = parseCount('kills', values.kills);
  const noWrite = values['no-write'];
  if (kills < MIN_RECORDED_KILLS && !noWrite && phases.includes('process-death')) {
    throw new BenchUsageError(
      `--kills: a recorded result needs at least ${MIN_RECORDED_KILLS} kills; ` +
        `add --no-write for a shorter trial run`,
    );
  }
  return { help: values.help, phases, kills, noWrite };
}

async function main(): Promise<void> {
  const start = startBench(NAME, USAGE, parseFlags);
  if (!start) return;
  const { flags, log, command, machine, started } = start;
  const phases: FailoverPhases = {};
  const ran: Phase[] = [];

  // Each phase in its own Scope: everything it started is stopped before the next begins.
  const run = async <T>(
    phase: Phase,
    body: (scope: Scope) => Promise<T>,
  ): Promise<PhaseRecord<T> | undefined> => {
    if (!flags.phases.includes(phase)) return undefined;
    const t0 = Date.now();
    const scope = new Scope();
    let result: T;
    try {
      result = await body(scope);
    } catch (err) {
      const dump = scope.dump();
      if (dump) process.stderr.write(`\n=== diagnostics for ${phase} ===\n${dump}`);
      throw err;
    } finally {
      await scope.close();
    }
    ran.push(phase);
    log(`${phase}: done in ${formatDuration(Date.now() - t0)}`);
    return {
      date: new Date(t0).toISOString(),
      command,
      machine,
      durationS: Math.round((Date.now() - t0) / 100) / 10,
      result,
    };
  };

  const death = await run('process-death', (s) =>
    measureProcessDeath(s, { kills: flags.kills, log }),
  );
  if (death) phases['process-death'] = death;
  const loss = await run('silent-loss', (s) =>
    measureSilentLoss(s, { samples: LOSS_SAMPLES, log }),
  );
  if (loss) phases['silent-loss'] = loss;
  const drain = await run('drain', (s) => measureDrain(s, { drains: DRAINS, log }));
  if (drain) phases.drain = drain;

  const previous = readResults<FailoverResults>(NAME);
  const merged: FailoverPhases = { ...(previous?.phases ?? {}), ...phases };
  const results: FailoverResults = {
    benchmark: NAME,
    updated: new Date().toISOString(),
    targets: evaluateTargets(merged),
    phases: merged,
  };
  process.stdout.write(`${renderSummary(results, ran)}\n`);
  publishResults({
    name: NAME,
    after: 'relay',
    results: results,
    markdown: renderMarkdown(results),
    noWrite: flags.noWrite,
    started,
  });
}

runBenchMain(NAME, main);
