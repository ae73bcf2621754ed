/**
 * A `node --test` reporter used by scripts/test.mjs next to the spec reporter: it writes nothing
 * while the tests run and, at the end, one JSON line for the whole invocation:
 *
 *   {"counts":{"tests":N,"suites":N,"pass":N,"fail":N,"cancelled":N,"skipped":N,"todo":N},
 *    "files":{"dist/test/x.test.js":seconds,...}}
 *
 * counts are the runner's own summary figures (its closing diagnostics); files sums the durations
 * of each file's top-level tests and suites, so test.mjs can add up several invocations and name
 * the slowest files. Plain ESM, no dependencies.
 */
import { relative } from 'node:path';

const COUNTERS = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo'];

export default async function* tally(source) {
  const counts = Object.fromEntries(COUNTERS.map((name) => [name, 0]));
  const files = {};
  for await (const event of source) {
    const data = event.data ?? {};
    if (event.type === 'test:diagnostic' && data.nesting === 0) {
      const m = /^(\w+) (\d+)$/.exec(String(data.message));
      if (m && COUNTERS.includes(m[1])) counts[m[1]] = Number(m[2]);
    } else if ((event.type === 'test:pass' || event.type === 'test:fail') && data.nesting === 0) {
      if (data.file) {
        const file = relative(process.cwd(), data.file);
        files[file] = (files[file] ?? 0) + (data.details?.duration_ms ?? 0) / 1000;
      }
    }
  }
  yield `${JSON.stringify({ counts, files })}\n`;
}
