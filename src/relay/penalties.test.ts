import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_PENALTIES, Penalties, type PenaltyConfig, type PenaltyKind } from './penalties.js';

const S = 1000;

/** A script of misbehaviour (or checks) at given seconds, and what `refusedFor` says after each. */
type Step = [at: number, kind: PenaltyKind | 'check', refusedForSeconds: number];

const cases: { name: string; steps: Step[]; config?: Partial<PenaltyConfig> }[] = [
  {
    name: 'one failed authentication is under min: nothing refused',
    steps: [
      [0, 'authfail', 0],
      [1, 'check', 0],
    ],
  },
  {
    name: 'stalls add up past min, and the refusal expires',
    steps: [
      [0, 'grace-exceeded', 0],
      [0, 'grace-exceeded', 20],
      [5, 'check', 15],
      [19, 'check', 1],
      [20, 'check', 0],
      [21, 'authfail', 0],
    ],
  },
  {
    name: 'a penalty under min expires and is not carried over',
    steps: [
      [0, 'authfail', 0],
      [5, 'authfail', 0],
      [100, 'authfail', 0],
      [101, 'authfail', 0],
    ],
  },
  {
    name: 'a source that keeps misbehaving stays refused, growing up to max',
    config: { maxMs: 60 * S },
    steps: [
      [0, 'grace-exceeded', 0],
      [0, 'grace-exceeded', 20],
      [0, 'grace-exceeded', 30],
      [1, 'grace-exceeded', 39],
      [2, 'grace-exceeded', 48],
      [3, 'grace-exceeded', 57],
      [4, 'grace-exceeded', 60],
      [5, 'grace-exceeded', 60],
      [64, 'check', 1],
      [65, 'check', 0],
    ],
  },
  {
    name: 'max-per-source refusals count too',
    steps: [
      [0, 'max-per-source', 0],
      [0, 'max-per-source', 0],
      [0, 'max-per-source', 15],
    ],
  },
  {
    name: 'a zero duration turns one kind off',
    config: { add: { ...DEFAULT_PENALTIES.add, noauth: 0 } },
    steps: Array.from({ length: 30 }, (_, i): Step => [i / 10, 'noauth', 0]),
  },
];

describe('Penalties', () => {
  for (const c of cases) {
    it(c.name, () => {
      const p = new Penalties({ ...DEFAULT_PENALTIES, ...c.config });
      for (const [at, kind, want] of c.steps) {
        if (kind !== 'check') p.penalise('10.0.0.1', kind, at * S);
        assert.equal(p.refusedFor('10.0.0.1', at * S), want * S, `at ${at}s after ${kind}`);
      }
    });
  }

  it('never refuses a source that never misbehaved', () => {
    const p = new Penalties(DEFAULT_PENALTIES);
    for (let i = 0; i < 10; i++) p.penalise('10.0.0.1', 'grace-exceeded', 0);
    assert.ok(p.refusedFor('10.0.0.1', 0) > 0);
    assert.equal(p.refusedFor('10.0.0.2', 0), 0);
  });

  it('holds at most max-sources entries; permissive overflow ignores new sources', () => {
    const p = new Penalties({ ...DEFAULT_PENALTIES, maxSources: 3 });
    for (const s of ['a', 'b', 'c', 'd']) {
      p.penalise(s, 'grace-exceeded', 0);
      p.penalise(s, 'grace-exceeded', 0);
    }
    assert.equal(p.size, 3);
    assert.equal(p.refusedFor('d', 0), 0);
    assert.equal(p.refusedFor('e', 0), 0);
    // Once entries expire there is room again.
    p.penalise('d', 'grace-exceeded', 30 * S);
    p.penalise('d', 'grace-exceeded', 30 * S);
    assert.equal(p.refusedFor('d', 30 * S), 20 * S);
    assert.equal(p.size, 1);
  });

  it('deny-all overflow refuses every untracked source until room frees up', () => {
    const p = new Penalties({ ...DEFAULT_PENALTIES, maxSources: 2, overflow: 'deny-all' });
    for (const s of ['a', 'b', 'c']) p.penalise(s, 'grace-exceeded', 0);
    assert.equal(p.size, 2);
    assert.ok(p.refusedFor('never-seen', 1 * S) > 0);
    assert.equal(p.refusedFor('a', 1 * S), 0, 'a tracked source under min is not refused');
    assert.equal(p.refusedFor('never-seen', 11 * S), 0, 'entries expired: room again');
  });
});
