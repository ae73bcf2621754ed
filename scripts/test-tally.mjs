/**
 * What scripts/test-run.mjs adds up while a group of test files runs, for scripts/test.mjs:
 *
 *   {"counts":{"tests":N,"suites":N,"pass":N,"fail":N,"cancelled":N,"skipped":N,"todo":N},
 *    "files":{"dist/test/x.test.js":seconds,...}}
 *
 * counts are the runner's own summary figures (its closing diagnostics); files sums the durations
 * of each file's top-level tests and suites, so test.mjs can add up several groups and name the
 * slowest files. Plain ESM, no dependencies.
 */
import { relative } from 'node:path';

const COUNTERS = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo'];

/** An accumulator of node:test events (`type`, `data` as the runner emits them). */
export function createTally() {
  const counts = Object.fromEntries(COUNTERS.map((name) => [name, 0]));
  const files = {};
  return {
    add(type, data = {}) {
      if (type === 'test:diagnostic' && data.nesting === 0) {
        const m = /^(\w+) (\d+)$/.exec(String(data.message));
        if (m && COUNTERS.includes(m[1])) counts[m[1]] = Number(m[2]);
      } else if ((type === 'test:pass' || type === 'test:fail') && data.nesting === 0) {
        if (data.file) {
          const file = relative(process.cwd(), data.file);
          files[file] = (files[file] ?? 0) + (data.details?.duration_ms ?? 0) / 1000;
        }
      }
    },
    result: () => ({ counts, files }),
  };
}
