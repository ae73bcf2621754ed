import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeMachine } from './machine.js';
import { BenchUsageError } from './report.js';
import {
  type BenchResults,
  defineBench,
  definePhase,
  type FlagSpecs,
  parseFlags,
  renderSection,
  usage,
} from './runner.js';

const FLAGS = {
  size: { type: 'size', default: '1G', help: 'bytes per transfer' },
  sizes: { type: 'sizes', default: '1G', metavar: 'LIST', help: 'files, comma-separated' },
  rounds: { type: 'count', default: 3, help: 'rounds' },
  'openssh-devices': { type: 'count', default: 200, min: 0, help: 'tunnels; 0 skips' },
  'cut-every': { type: 'interval', default: '10s', help: 'between cuts' },
  'relay-ciphers': { type: 'string', metavar: 'LIST', help: 'relay ciphers' },
  mode: { type: 'string', default: 'fast', help: 'mode' },
  'no-plain-cut': { type: 'boolean', help: 'skip plain ssh' },
} as const satisfies FlagSpecs;

const phase = (name: string) =>
  definePhase<typeof FLAGS, { n: number }>({
    name,
    title: `Phase ${name}`,
    measure: async () => ({ result: { n: 1 }, targets: [] }),
    tables: (r) => [{ title: `${name} table`, headers: ['n'], rows: [[r.n]] }],
  });

// `abuse` so that renderSection finds a method prose file (bench/abuse.md) to include.
const BENCH = defineBench({
  name: 'abuse',
  title: 'test bench',
  flags: FLAGS,
  phases: [phase('one'), phase('two')],
  moved: { floor: 'npm run bench -- experiments/floor' },
});

const DEFAULTS: Record<string, unknown> = {
  size: 2 ** 30,
  sizes: [2 ** 30],
  rounds: 3,
  'openssh-devices': 200,
  'cut-every': 10_000,
  'relay-ciphers': undefined,
  mode: 'fast',
  'no-plain-cut': false,
};

describe('parseFlags', () => {
  const ok: [argv: string[], want: Record<string, unknown>, phases?: string[]][] = [
    [[], {}],
    [['--size', '64M'], { size: 64 * 2 ** 20 }],
    [['--size=512K', '--rounds', '1'], { size: 512 * 1024, rounds: 1 }],
    [['--sizes', '64M'], { sizes: [64 * 2 ** 20] }],
    [['--sizes', '1G,512M'], { sizes: [2 ** 30, 512 * 2 ** 20] }],
    [['--sizes=32M, 64M,1K'], { sizes: [32 * 2 ** 20, 64 * 2 ** 20, 1024] }],
    [['--openssh-devices', '0'], { 'openssh-devices': 0 }],
    [['--cut-every', '500ms'], { 'cut-every': 500 }],
    [['--cut-every', '1m'], { 'cut-every': 60_000 }],
    [['--relay-ciphers', 'aes128-gcm@openssh.com'], { 'relay-ciphers': 'aes128-gcm@openssh.com' }],
    [['--mode', 'slow', '--no-plain-cut'], { mode: 'slow', 'no-plain-cut': true }],
    [['--phases', 'two'], {}, ['two']],
    [['--phases', 'two, one'], {}, ['two', 'one']],
  ];
  for (const [argv, want, phases] of ok) {
    it(`accepts ${argv.join(' ') || '(nothing)'}`, () => {
      const p = parseFlags(BENCH, argv);
      assert.deepEqual(p.flags, { ...DEFAULTS, ...want });
      assert.deepEqual(p.phases, phases ?? ['one', 'two']);
      assert.deepEqual([p.noWrite, p.render, p.help], [false, false, false]);
    });
  }

  it('reads the common flags', () => {
    const p = parseFlags(BENCH, ['--no-write', '--render', '--help']);
    assert.deepEqual([p.noWrite, p.render, p.help], [true, true, true]);
  });

  const bad: [argv: string[], message: RegExp][] = [
    [['--phases', 'three'], /^--phases: unknown phase "three"; known: one, two$/],
    [['--rounds', '0'], /^--rounds: expected a whole number ≥ 1, got "0"$/],
    [['--rounds', '2.5'], /^--rounds: expected a whole number ≥ 1, got "2.5"$/],
    [['--openssh-devices=-1'], /^--openssh-devices: expected a whole number ≥ 0, got "-1"$/],
    [['--size', 'big'], /^--size: expected e.g. 1G, 512M or 1048576, got "big"$/],
    [['--cut-every', '50ms'], /^--cut-every: at least 100ms, got "50ms"$/],
    [['--sizes', '1G,big'], /^--size: expected e.g. 1G, 512M or 1048576, got "big"$/],
    [
      ['--sizes', '1G,'],
      /^--size: expected a size or a comma-separated list such as 1G,512M, got "1G,"$/,
    ],
    [
      ['--sizes', ''],
      /^--size: expected a size or a comma-separated list such as 1G,512M, got ""$/,
    ],
    [['--sizes', '1G,1024M'], /^--size: 1024M is listed twice in "1G,1024M"$/],
    [
      ['--floor'],
      /^--floor is no longer a flag of abuse: run npm run bench -- experiments\/floor$/,
    ],
    [['--rounds', '2', '--floor=1'], /^--floor is no longer a flag of abuse: run /],
    [['--cut-every', 'soon'], /^--cut-every: expected e.g. 10s, 500ms or 1m, got "soon"$/],
  ];
  for (const [argv, message] of bad) {
    it(`refuses ${argv.join(' ')} with a one-line usage error`, () => {
      assert.throws(
        () => parseFlags(BENCH, argv),
        (err: unknown) => err instanceof BenchUsageError && message.test(err.message),
      );
    });
  }

  for (const argv of [['--profile'], ['--rounds'], ['extra']]) {
    it(`refuses ${argv.join(' ')} as a parse error`, () => {
      assert.throws(
        () => parseFlags(BENCH, argv),
        (err: unknown) => /^ERR_PARSE_ARGS_/.test((err as { code?: string }).code ?? ''),
      );
    });
  }
});

describe('usage', () => {
  const text = usage(BENCH);
  const lines: RegExp[] = [
    /^usage: npm run bench -- abuse \[flags\]$/m,
    /^ {2}--phases LIST +phases to run, comma-separated: one,two \(default: all\)$/m,
    /^ {2}--size SIZE +bytes per transfer \(default 1G\)$/m,
    /^ {2}--sizes LIST +files, comma-separated \(default 1G\)$/m,
    /^ {2}--rounds N +rounds \(default 3\)$/m,
    /^ {2}--cut-every INTERVAL +between cuts \(default 10s\)$/m,
    /^ {2}--relay-ciphers LIST +relay ciphers$/m,
    /^ {2}--no-plain-cut +skip plain ssh$/m,
    /^ {2}--no-write +/m,
    /^ {2}--render +/m,
    /^ {2}--help +/m,
  ];
  for (const re of lines) it(`has a line ${re}`, () => assert.match(text, re));
});

describe('renderSection', () => {
  const machine = {
    cpuModel: 'CPU',
    cores: 2,
    memoryGiB: 4,
    kernel: '6.1',
    node: 'v20.0.0',
    openssh: 'OpenSSH_9.2p1',
    loadAvg1: 0.5,
  };
  const results: BenchResults = {
    benchmark: 'abuse',
    updated: '2026-01-02T03:04:05.678Z',
    phases: {
      two: {
        date: '2026-01-02T03:04:05.678Z',
        command: 'npm run bench -- abuse --phases two',
        machine,
        durationS: 75,
        result: { n: 7 },
        targets: [{ id: 't', target: 'n ≥ 5', measured: '7', status: 'PASS', note: 'once' }],
      },
    },
  };
  const md = renderSection(BENCH, results);

  it('renders the title, then the method prose, then only the phases on record', () => {
    assert.ok(md.startsWith('## test bench\n\nReproduce'), md.slice(0, 80));
    assert.ok(!md.includes('### Phase one'));
    assert.ok(md.indexOf('Reproduce') < md.indexOf('### Phase two'));
  });

  it("renders a phase's tables, when and how it was measured, and its targets", () => {
    const phaseText = md.slice(md.indexOf('### Phase two'));
    assert.equal(
      phaseText,
      [
        '### Phase two',
        '',
        '**two table**',
        '',
        '| n |',
        '| --- |',
        '| 7 |',
        '',
        'Measured 2026-01-02 03:04:05 UTC with `npm run bench -- abuse --phases two` in 1m 15s; load average at the start 0.5.',
        `Machine: ${describeMachine(machine)}.`,
        '',
        '**Targets**',
        '',
        '| target | measured | result |',
        '| --- | --- | --- |',
        '| n ≥ 5 | 7 | **PASS** (once) |',
      ].join('\n'),
    );
  });
});
