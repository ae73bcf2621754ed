import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RefusalBurst } from './refusal-burst.js';

test('the first refusal of each burst is the one audited', () => {
  // [ms since the start, starts a burst]
  const cases: [number, boolean][] = [
    [0, true],
    [10, false],
    [9_000, false], // 8 990 ms after the previous one: the same burst
    [18_999, false],
    [28_999, true], // 10 s of quiet
    [29_000, false],
    [20_000, true], // the clock went back
    [20_001, false],
  ];
  let now = 0;
  const burst = new RefusalBurst(10_000, () => now);
  for (const [at, starts] of cases) {
    now = at;
    assert.equal(burst.starts(), starts, `at ${at} ms`);
  }
});
