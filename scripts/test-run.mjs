#!/usr/bin/env node
/**
 * Runs one group of test files for scripts/test.mjs with node:test's run(): each file in a
 * process of its own, `--concurrency N` at a time, started in the order given. (`node --test`
 * sorts the paths it is given by name, which undid test.mjs's longest-first order: in a clean
 * run the groups' long files started last and left the others waiting.) The spec reporter
 * writes to stdout; at the end the tally (test-tally.mjs) goes to the JSON file `--tally` names.
 * Exit status 1 when a test or a file failed. Node flags given to this script's own process
 * (test.mjs passes them) reach every test process.
 *
 * Usage: node scripts/test-run.mjs --concurrency N --tally FILE [--test-name-pattern RE]... FILE...
 */
import { writeFileSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { parseArgs } from 'node:util';
import { createTally } from './test-tally.mjs';

let parsed;
try {
  parsed = parseArgs({
    options: {
      concurrency: { type: 'string', default: '1' },
      tally: { type: 'string' },
      'test-name-pattern': { type: 'string', multiple: true, default: [] },
    },
    allowPositionals: true,
    strict: true,
  });
} catch (err) {
  process.stderr.write(
    `test-run: ${err.message} (usage: test-run.mjs --concurrency N --tally FILE [--test-name-pattern RE]... FILE...)\n`,
  );
  process.exit(2);
}
const { values, positionals } = parsed;
const patterns = values['test-name-pattern'];
const stream = run({
  files: positionals,
  concurrency: Math.max(1, Number(values.concurrency) || 1),
  ...(patterns.length > 0 ? { testNamePatterns: patterns } : {}),
});
const tally = createTally();
for (const type of ['test:diagnostic', 'test:pass', 'test:fail']) {
  stream.on(type, (data) => tally.add(type, data));
}
stream.on('test:fail', () => {
  process.exitCode = 1;
});
const out = stream.compose(spec);
out.pipe(process.stdout);
await finished(out);
if (values.tally) writeFileSync(values.tally, `${JSON.stringify(tally.result())}\n`);
