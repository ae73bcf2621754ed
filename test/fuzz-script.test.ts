/**
 * `npm run fuzz` (scripts/fuzz.mjs) as a user runs it: bounded by --minutes, printing each round's
 * seed and a closing count, replaying a seed exactly, explaining itself for --help, refusing bad
 * flags with one line. The wire phase is left out here (test/relay-wire-fuzz.test.ts is that
 * phase) and so is the build (`npm test` has just built dist/).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCommand, withScope } from './helpers/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const fuzz = (s: Parameters<typeof runCommand>[0], args: string[]) =>
  runCommand(s, 'npm', ['run', '--silent', 'fuzz', '--', '--no-build', ...args], {
    cwd: ROOT,
    timeoutMs: 60_000,
  });

describe('npm run fuzz', () => {
  it('runs the properties round after round within --minutes, printing seeds and a count', async (t) =>
    withScope(t, async (s) => {
      const r = await fuzz(s, ['--minutes', '0.1', '--no-wire', '--only', 'core/names.ts']);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const seeds = [...r.stdout.matchAll(/== fuzz: round \d+, seed (-?\d+)/g)];
      assert.ok(seeds.length >= 1, r.stdout);
      assert.match(
        r.stdout,
        /^ok {3}core\/names\.ts: checkName never throws.*: \d+ runs in \d+ ms/m,
      );
      const last = r.stdout.trim().split('\n').at(-1);
      assert.match(last ?? '', /^fuzz: (\d+) passed, 0 failed$/);
      assert.ok(r.durationMs < 40_000, `took ${r.durationMs} ms`);
    }));

  it('replays one seed: the same property, the same runs, one round', async (t) =>
    withScope(t, async (s) => {
      const args = ['--seed', '4242', '--only', 'checkName never throws', '--no-wire'];
      const [a, b] = [await fuzz(s, args), await fuzz(s, args)];
      for (const r of [a, b]) {
        assert.equal(r.code, 0, r.stderr + r.stdout);
        assert.equal([...r.stdout.matchAll(/== fuzz: round/g)].length, 1);
        assert.match(r.stdout, /seed 4242\n/);
        assert.match(r.stdout, /fuzz: 1 passed, 0 failed/);
      }
      const runs = (out: string) => /: (\d+) runs in/.exec(out)?.[1];
      assert.equal(runs(a.stdout), runs(b.stdout));
    }));

  it('explains itself for --help and -h on stdout, exit 0, running nothing', async (t) =>
    withScope(t, async (s) => {
      for (const flag of ['--help', '-h']) {
        const r = await fuzz(s, [flag]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^usage: npm run fuzz -- \[--minutes N\]/);
        for (const option of [
          '--minutes N',
          '--seed N',
          '--only TEXT',
          '--no-wire',
          '--no-build',
        ]) {
          assert.match(r.stdout, new RegExp(`^  ${option} `, 'm'), option);
        }
        assert.doesNotMatch(r.stdout, /seed \d+|passed/, 'no round ran');
        assert.equal(r.stderr, '');
      }
    }));

  it('refuses bad flags with exit 2 and one line naming the flag', async (t) =>
    withScope(t, async (s) => {
      const cases: [string[], RegExp][] = [
        [['--minutes', 'soon'], /^fuzz: --minutes: expected a number of minutes above 0$/m],
        [['--minutes', '0'], /^fuzz: --minutes: expected/m],
        [['--seed', 'x'], /^fuzz: --seed: expected a whole number$/m],
        [['--only', 'no such property'], /^fuzz: --only "no such property" matches no property$/m],
        [['--bogus'], /^fuzz: unknown argument "--bogus"$/m],
      ];
      for (const [args, want] of cases) {
        const r = await fuzz(s, args);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, want);
        assert.doesNotMatch(r.stderr, /at .*\.m?js:\d+/, 'no stack trace');
      }
    }));
});
