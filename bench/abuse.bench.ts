/**
 * `npm run bench -- abuse [flags]`: the relay under attack, each phase against its baseline in the
 * same run (OpenSSH's sshd under the same flood; the relay's own quiet figures for the window
 * attack and the idle crowd). Each phase is one entry of PHASES (see abuse/phases.ts for the
 * shape); phases not run keep their previous results. Writes bench/results/abuse.json and the
 * `abuse` section of BENCHMARKS.md, and prints a summary.
 */
import { parseArgs } from 'node:util';
import { Scope } from '../test/helpers/index.js';
import { floodPhase } from './abuse/flood.js';
import { idleKeysPhase, windowPhase } from './abuse/more-phases.js';
import type { AbusePhase, AbuseResults, PhaseRecord } from './abuse/phases.js';
import { parseCount } from './lib/flags.js';
import {
  BenchUsageError,
  measuredLines,
  publishResults,
  readResults,
  runBenchMain,
  startBench,
} from './lib/report.js';

const NAME = 'abuse';

/** Every phase, in run order. Adding one is adding its module and a line here. */
const PHASES: readonly AbusePhase<never>[] = [
  floodPhase as AbusePhase<never>,
  windowPhase as AbusePhase<never>,
  idleKeysPhase as AbusePhase<never>,
];
const NAMES = PHASES.map((p) => p.name);

const USAGE = `usage: npm run bench -- abuse [flags]

  --phases LIST        phases to run, comma-separated: ${NAMES.join(',')} (default: all)
  --duration S         seconds of each attack window (default 30)
  --quiet-runs N       quiet ssh … true runs for the baseline latency (default 20)
  --reopen-delay MS    flood: pause before a closed slot reconnects (default 500)
  --no-write           print the summary only; leave results and BENCHMARKS.md alone
  --help`;

function parseFlags(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      phases: { type: 'string', default: NAMES.join(',') },
      duration: { type: 'string', default: '30' },
      'quiet-runs': { type: 'string', default: '20' },
      'reopen-delay': { type: 'string', default: '500' },
      'no-write': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const phases = values.phases.split(',').map((s) => s.trim());
  for (const ph of phases) {
    if (!NAMES.includes(ph)) {
      throw new BenchUsageError(`--phases: unknown phase "${ph}"; known: ${NAMES.join(', ')}`);
    }
  }
  return {
    help: values.help,
    phases,
    durationS: parseCount('duration', values.duration, 1),
    quietRuns: parseCount('quiet-runs', values['quiet-runs'], 1),
    reopenDelayMs: parseCount('reopen-delay', values['reopen-delay'], 0),
    noWrite: values['no-write'],
  };
}

function renderMarkdown(results: AbuseResults): string {
  const lines = [
    '## abuse: the relay under attack, against OpenSSH sshd',
    '',
    'Reproduce: `npm run bench -- abuse` (one phase: `--phases flood`, `window` or `idle-keys`).',
  ];
  for (const phase of PHASES) {
    const rec = results.phases[phase.name] as PhaseRecord<never> | undefined;
    if (!rec) continue;
    lines.push('', ...phase.markdown(rec), '', ...measuredLines({ ...rec, targets: rec.targets }));
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const start = startBench(NAME, USAGE, parseFlags);
  if (!start) return;
  const { flags, log, command, machine, started } = start;
  const ran: Record<string, PhaseRecord> = {};
  for (const phase of PHASES) {
    if (!flags.phases.includes(phase.name)) continue;
    const scope = new Scope();
    const t0 = Date.now();
    try {
      log(`phase ${phase.name}`);
      const out = await phase.run({ scope, flags, log });
      ran[phase.name] = {
        ...out,
        date: new Date(t0).toISOString(),
        command,
        machine,
        durationS: Math.round((Date.now() - t0) / 100) / 10,
      };
    } finally {
      await scope.close();
    }
  }
  const previous = readResults<AbuseResults>(NAME);
  const results: AbuseResults = {
    benchmark: 'abuse',
    updated: new Date().toISOString(),
    phases: { ...(previous?.phases ?? {}), ...ran },
  };
  for (const phase of PHASES) {
    const rec = ran[phase.name] as PhaseRecord<never> | undefined;
    if (!rec) continue;
    process.stdout.write(`\n${phase.name}:\n${phase.summary(rec).join('\n')}\n`);
    for (const t of rec.targets)
      process.stdout.write(`  ${t.status}  ${t.target}: ${t.measured}\n`);
  }
  publishResults({
    name: NAME,
    after: 'relay',
    results,
    markdown: renderMarkdown(results),
    noWrite: flags.noWrite,
    started,
  });
}

runBenchMain(NAME, main);
