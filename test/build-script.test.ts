/**
 * `node scripts/build.mjs` (`npm run build`) as a user runs it, for what does not build: --help
 * and a bad argument. The build itself is what `npm test` ran before this file (its bundle is
 * checked in test/shim.test.ts); running it here would rewrite dist/ under the other test files.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCommand, withScope } from './helpers/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUILD = join(ROOT, 'scripts', 'build.mjs');

describe('scripts/build.mjs', () => {
  it('explains itself for --help and -h on stdout, exit 0, building nothing', async (t) =>
    withScope(t, async (s) => {
      for (const flag of ['--help', '-h']) {
        const r = await runCommand(s, process.execPath, [BUILD, flag], { cwd: ROOT });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^usage: node scripts\/build\.mjs {3}\(npm run build\)\n/);
        assert.match(r.stdout, /tsc -p tsconfig\.json/);
        assert.match(r.stdout, /shim-command\.js bundled in place/);
        assert.equal(r.stderr, '');
      }
    }));

  it('refuses an argument with exit 2 and one line, building nothing', async (t) =>
    withScope(t, async (s) => {
      const r = await runCommand(s, process.execPath, [BUILD, '--watch'], { cwd: ROOT });
      assert.equal(r.code, 2);
      assert.equal(r.stderr, 'build: unknown argument "--watch" (it takes none)\n');
      assert.equal(r.stdout, '');
    }));
});
