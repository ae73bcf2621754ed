/**
 * Property tests with fixed seeds: every property in test/properties/, a few hundred runs each,
 * the same inputs on every run (`FUZZ_SEED=N` picks another seed). `npm run fuzz` runs the same
 * properties with fresh seeds and many more runs, and prints the command that replays a failure.
 */
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ALL_PROPERTIES } from './properties/index.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_206);

describe('properties (fast-check, fixed seed)', () => {
  for (const p of ALL_PROPERTIES) {
    it(`${p.subject}: ${p.name}`, async () => {
      await fc.assert(p.property(), { seed: SEED, numRuns: p.runs });
    });
  }
});
