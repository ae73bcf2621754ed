import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BenchUsageError } from '../lib/report.js';
import { defineBench, parseFlags, usage } from '../lib/runner.js';
import { terminalTable } from '../lib/table.js';
import type { ShimCpu } from './cpu.js';
import { type RunSample, summarizeNoFaults } from './no-faults.js';
import {
  cpuNotes,
  cutsPhase,
  MEDIAN_HEADERS,
  medianRows,
  noFaultsPhase,
  SHIM_FLAGS,
  summaryLine,
} from './phases.js';
import { cpuPerGiB, noFaultTargets, runShimCpu, TARGETS } from './results.js';
import { FORMS_WITH_JAVASCRIPT, type Form } from './world.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

const cpuOf = (local: number | null, holder: number | null): ShimCpu => ({
  local,
  serve: null,
  holder,
  serveProcesses: 0,
});

/** Three rounds per form: [seconds, local CPU s, holder CPU s]. */
function samples(runs: Partial<Record<Form, [number, number | null, number | null][]>>) {
  const out: RunSample[] = [];
  for (const [form, list] of Object.entries(runs) as [Form, [number, number, number][]][]) {
    list.forEach(([seconds, local, holder], i) => {
      out.push({
        form,
        round: i + 1,
        seconds,
        mibPerSec: 1024 / seconds,
        shimCpu: form === 'ssh' ? null : cpuOf(local, holder),
        machineCpuSeconds: seconds * 1.5,
      });
    });
  }
  return out;
}

// ssh median 10 s; native shim median 10.4 s (+4.0%), local + holder 0.2, 0.25, 0.3 (median
// 0.25); JavaScript path median 11.5 s (+15.0%), 2.5, 2.7, 3.0 (median 2.7).
const RUNS = {
  ssh: [
    [10, null, null],
    [10.2, null, null],
    [9.8, null, null],
  ],
  shim: [
    [10.4, 0.1, 0.1],
    [10.6, 0.15, 0.1],
    [10.3, 0.1, 0.2],
  ],
  'shim-js': [
    [11, 1, 1.5],
    [11.5, 1.2, 1.5],
    [12, 1, 2],
  ],
} satisfies Record<Form, [number, number | null, number | null][]>;

const result = (bytes: number, runs: Parameters<typeof samples>[0] = RUNS) =>
  summarizeNoFaults(samples(runs), {
    host: 'dev1-direct',
    bytes,
    rounds: 3,
    forms: Object.keys(runs) as Form[],
  });

const close = (a: number | null, b: number) =>
  assert.ok(a !== null && Math.abs(a - b) < 1e-9, `${a} ≈ ${b}`);

describe('CPU seconds per GiB', () => {
  it('sums local and holder per run, and is null when either left no record', () => {
    const [run] = samples({ shim: [[1, 0.5, 0.25]] });
    assert.equal(runShimCpu(run!), 0.75);
    assert.equal(runShimCpu(samples({ shim: [[1, null, 0.25]] })[0]!), null);
    assert.equal(runShimCpu(samples({ ssh: [[1, null, null]] })[0]!), null);
  });

  it('is the median over the runs of local + holder, divided by the GiB sent', () => {
    close(cpuPerGiB(result(GiB), 'shim'), 0.25);
    close(cpuPerGiB(result(GiB), 'shim-js'), 2.7);
    close(cpuPerGiB(result(512 * MiB), 'shim'), 0.5);
    close(cpuPerGiB(result(2 * GiB), 'shim-js'), 1.35);
    assert.equal(cpuPerGiB(result(GiB), 'ssh'), null);
  });

  it('leaves out runs without a record, and is null when none has one', () => {
    const r = result(GiB, {
      ssh: RUNS.ssh,
      shim: [
        [10, 0.1, null],
        [10, 0.4, 0.2],
        [10, 0.2, 0.2],
      ],
    });
    close(cpuPerGiB(r, 'shim'), 0.5);
    const none = result(GiB, { ssh: RUNS.ssh, shim: [[10, null, null]] });
    assert.equal(cpuPerGiB(none, 'shim'), null);
  });

  it('is stored per shim form in the result', () => {
    const r = result(GiB);
    const of = (form: Form) => r.forms.find((f) => f.form === form)!;
    assert.deepEqual(
      r.forms.map((f) => f.form),
      FORMS_WITH_JAVASCRIPT,
    );
    assert.equal(of('ssh').shimCpuPerGiB, null);
    close(of('shim').shimCpuPerGiB!, 0.25);
    close(of('shim-js').shimCpuPerGiB!, 2.7);
    close(r.overhead, 0.04);
    close(of('shim-js').vsSsh!, 0.15);
  });
});

describe('the medians table', () => {
  it('has a column of shim CPU s/GiB for both shim forms, and vs ssh for each', () => {
    assert.equal(MEDIAN_HEADERS.at(-1), 'shim CPU s/GiB (local + holder)');
    assert.deepEqual(medianRows(result(GiB)), [
      ['ssh (baseline)', '10.00 s', '102', '15.0', '–', '–'],
      ['burrow shim', '10.40 s', '98', '15.6', '+4.0%', '0.25'],
      ['burrow shim (JavaScript path)', '11.50 s', '89', '17.3', '+15.0%', '2.70'],
    ]);
  });

  it('shows – where the shim left no CPU record', () => {
    const r = result(GiB, { ssh: RUNS.ssh, shim: [[10, null, null]] });
    assert.deepEqual(medianRows(r)[1]!.slice(-2), ['+0.0%', '–']);
  });

  it('says the same in the summary line and the notes', () => {
    assert.equal(
      summaryLine(result(GiB)),
      '1 GiB: burrow shim +4.0% vs ssh, 0.25 CPU s/GiB (local + holder); ' +
        'burrow shim (JavaScript path) +15.0% vs ssh, 2.70 CPU s/GiB (local + holder)',
    );
    const notes = cpuNotes(result(GiB), 2);
    assert.equal(notes.length, 3);
    assert.match(notes[0]!, /^Both cores were 75% busy during the ssh runs/);
    assert.match(
      notes[1]!,
      /^burrow shim: .* 0\.6 CPU s more of the machine than ssh's; median CPU s of its node processes: local 0\.10, holder 0\.10; 0\.25 CPU s\/GiB/,
    );
    assert.match(notes[2]!, /^burrow shim \(JavaScript path\): .*; 2\.70 CPU s\/GiB/);
  });
});

describe('the targets', () => {
  it('judge the native shim: +5% over ssh and 0.3 CPU s/GiB, at each size', () => {
    assert.deepEqual(TARGETS, { maxOverhead: 0.05, maxCpuPerGiB: 0.3 });
    const t = noFaultTargets(result(GiB));
    assert.deepEqual(
      t.map((x) => [x.id, x.status]),
      [
        [`overhead-${GiB}`, 'PASS'],
        [`cpu-per-gib-${GiB}`, 'PASS'],
      ],
    );
    assert.match(t[0]!.target, /^rsync of 1 GiB, no faults: .* ≤ \+5%$/);
    assert.match(t[0]!.measured, /^\+4\.0% \(shim 10\.40 s vs ssh 10\.00 s/);
    assert.match(t[1]!.target, /≤ 0\.3$/);
    assert.equal(t[1]!.measured, '0.25 CPU s/GiB (median of 3 run(s))');
    // Half the size, the same CPU: 0.5 per GiB.
    assert.deepEqual(
      noFaultTargets(result(512 * MiB)).map((x) => x.status),
      ['PASS', 'MISS'],
    );
  });

  it('miss beyond +5%, and when the shim left no CPU record', () => {
    const slow = result(GiB, {
      ssh: RUNS.ssh,
      shim: [
        [10.6, null, null],
        [10.6, null, null],
        [10.6, null, null],
      ],
    });
    const t = noFaultTargets(slow);
    assert.deepEqual(
      t.map((x) => x.status),
      ['MISS', 'MISS'],
    );
    assert.equal(t[1]!.measured, "no CPU record from the shim's processes in 3 run(s)");
  });
});

describe('the no-faults tables', () => {
  const rec = { machine: { cores: 2 } } as Parameters<typeof noFaultsPhase.tables>[1];

  it('give a runs table and a medians table per size, in order', () => {
    const tables = noFaultsPhase.tables([result(GiB), result(512 * MiB)], rec);
    assert.equal(tables.length, 4);
    assert.equal(tables[0]!.title, 'rsync of 1 GiB to dev1-direct, 3 runs per transport');
    assert.equal(tables[2]!.title, 'rsync of 512 MiB to dev1-direct, 3 runs per transport');
    assert.equal(tables[3]!.rows[1]!.at(-1), '0.50');
    assert.match(terminalTable(tables[1]!), /shim CPU s\/GiB \(local \+ holder\)/);
  });

  it('render a stored result of one size, without the JavaScript path', () => {
    const old = result(GiB, { ssh: RUNS.ssh, shim: RUNS.shim });
    const tables = noFaultsPhase.tables(old, rec);
    assert.equal(tables.length, 2);
    assert.deepEqual(
      tables[1]!.rows.map((r) => r[0]),
      ['ssh (baseline)', 'burrow shim'],
    );
  });
});

describe('the shim flags', () => {
  const bench = defineBench({
    name: 'shim',
    title: 'shim',
    flags: SHIM_FLAGS,
    phases: [noFaultsPhase, cutsPhase],
  });

  it('read --size as a list, 1G by default, and --no-javascript', () => {
    const d = parseFlags(bench, []).flags;
    assert.deepEqual(d.size, [GiB]);
    assert.equal(d['no-javascript'], false);
    const p = parseFlags(bench, ['--size', '1G,512M', '--no-javascript']).flags;
    assert.deepEqual(p.size, [GiB, 512 * MiB]);
    assert.equal(p['no-javascript'], true);
    assert.deepEqual(parseFlags(bench, ['--size=64M,32M']).flags.size, [64 * MiB, 32 * MiB]);
  });

  it('refuse a bad list with a one-line usage error', () => {
    for (const [text, message] of [
      ['1G,,2G', /^--size: expected a size or a comma-separated list/],
      ['1G,1G', /^--size: 1G is listed twice in "1G,1G"$/],
      ['1G,lots', /^--size: expected e.g. 1G, 512M or 1048576, got "lots"$/],
    ] as const) {
      assert.throws(
        () => parseFlags(bench, ['--size', text]),
        (err: unknown) => err instanceof BenchUsageError && message.test(err.message),
      );
    }
  });

  it('list both in --help', () => {
    const text = usage(bench);
    assert.match(text, /^ {2}--size LIST +the file rsync sends.*\(default 1G\)$/m);
    assert.match(text, /^ {2}--no-javascript +leave out/m);
  });
});
