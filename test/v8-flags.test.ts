/**
 * burrow's executables start with V8's ArrayBuffer sweeping on the main thread
 * (src/core/v8-flags.ts): each entry sets it before anything else runs, and the Node running it
 * knows the flag (`v8.setFlagsFromString` ignores a flag it does not know, so a Node that dropped
 * it would lose the setting without a word). What it saves is measured by
 * `npm run bench -- experiments/relay-ab` (bench/relay.md, "Kept: ArrayBuffers swept on the main
 * thread"); a count of full collections in a test run moved with the machine's load too much to
 * be a check (5 on a quiet machine, 14 under the test suite's load, 17 without the setting).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCommand, tmpDir, withScope } from './helpers/index.js';

const FLAG = '--no-concurrent-array-buffer-sweeping';
const CLI_DIR = new URL('../src/cli/', import.meta.url).pathname;

/** Loaded with --require before the entry: records each v8.setFlagsFromString call. */
const HOOK = `const v8 = require('node:v8');
const fs = require('node:fs');
const set = v8.setFlagsFromString;
v8.setFlagsFromString = (flags) => {
  fs.appendFileSync(process.env.BURROW_TEST_FLAGS_OUT, flags + '\\n');
  return set(flags);
};
`;

describe('V8 settings of the executables', () => {
  for (const entry of ['main.js', 'shim-main.js', 'otssh-main.js']) {
    it(`${entry} sweeps ArrayBuffers on the main thread`, async (t) =>
      withScope(t, async (s) => {
        const dir = await tmpDir(s);
        const hook = join(dir, 'hook.cjs');
        const out = join(dir, 'flags');
        writeFileSync(hook, HOOK);
        writeFileSync(out, '');
        const r = await runCommand(
          s,
          process.execPath,
          ['--require', hook, join(CLI_DIR, entry), '--help'],
          { env: { BURROW_TEST_FLAGS_OUT: out }, timeoutMs: 15_000 },
        );
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(readFileSync(out, 'utf8').split('\n').filter(Boolean), [FLAG]);
      }));
  }

  it('the Node running burrow knows the flag', async (t) =>
    withScope(t, async (s) => {
      const r = await runCommand(s, process.execPath, ['--v8-options'], { timeoutMs: 15_000 });
      assert.equal(r.code, 0);
      assert.match(r.stdout, /^ {2}--concurrent-array-buffer-sweeping /m);
    }));
});
