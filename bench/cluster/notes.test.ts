import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attemptCounts, binomialNote } from './notes.js';

describe('attemptCounts', () => {
  it('says "all N" when every round took the same number of attempts', () => {
    assert.equal(attemptCounts([1, 1, 1]), 'all 1');
  });
  it('counts each number of attempts, fewest first', () => {
    assert.equal(attemptCounts([2, 1, 1, 3, 1, 2]), '1 (×3), 2 (×2), 3 (×1)');
  });
});

describe('binomialNote', () => {
  it('gives the band in standard deviations of Binomial(N, 1/2)', () => {
    // 60 agents: sd √60/2 = 3.87, band 4.5 = 1.16 sd.
    assert.equal(
      binomialNote(60),
      "If placement were uniformly random, a survivor's count would be Binomial(60, ½): sd 3.9 " +
        'agents, so ±15% (±4.5) is ±1.16 sd.',
    );
    // 10 000 agents: sd 50, band 750 = 15 sd.
    assert.match(binomialNote(10_000), /sd 50\.0 agents, so ±15% \(±750\.0\) is ±15\.00 sd\.$/);
  });
});
