/**
 * A named property of one module, run two ways: by `npm test` with a fixed seed and `runs` runs
 * (test/properties.test.ts), and by `npm run fuzz` with fresh seeds and many more runs
 * (scripts/fuzz.mjs). A property holds for every input fast-check can generate; when it fails,
 * fast-check shrinks the input and reports the seed and path that replay it.
 */
import type fc from 'fast-check';

export interface FuzzProperty {
  /** The module under test, as a path under src/. */
  readonly subject: string;
  /** What holds, as a sentence. */
  readonly name: string;
  /** Runs in `npm test`: enough to catch a regression, few enough to take well under a second. */
  readonly runs: number;
  readonly property: () => fc.IRawProperty<unknown>;
}

/** Runs `fn`; returns what it threw (undefined when it returned). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err;
  }
}

/** Longest error message any parser here may produce for any input: messages quote, never echo. */
export const MAX_MESSAGE = 400;
