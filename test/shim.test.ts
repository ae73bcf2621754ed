/**
 * `burrow shim` through a real burrow relay to a real sshd (the device registered by `burrow
 * agent`), with real rsync and scp: transfers that survive cut connections and relay restarts,
 * exit statuses, the resume window, and who may attach to a held session.
 */
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { FIRST_CONNECT_TRIES } from '../src/shim/timings.js';
import { runCommand, tmpDir, withScope } from './helpers/index.js';
import { CLI_PATH } from './helpers/relay.js';
import { shimCases } from './helpers/shim-cases.js';

describe('burrow shim: its command line', () => {
  const shim = (
    s: Parameters<typeof runCommand>[0],
    args: string[],
    env: Record<string, string> = {},
  ) =>
    runCommand(s, process.execPath, [CLI_PATH, 'shim', ...args], {
      env: { BURROW_SHIM_SSH: '/nonexistent/ssh-must-not-run', ...env },
    });

  it('prints its usage on stdout for --help (0) and on stderr when called with nothing (2)', async (t) =>
    withScope(t, async (s) => {
      const help = await shim(s, ['--help']);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /^usage: burrow shim \[ssh options\]/);
      assert.match(help.stdout, /BURROW_SHIM_BUFFER/);
      assert.match(help.stdout, /BURROW_SHIM_NATIVE/);
      // scp runs its -S value as one program name: the usage shows the forms that work.
      assert.match(help.stdout, /^ {2}scp -S burrow-shim FILE host:PATH /m);
      assert.match(help.stdout, /^ {2}rsync -a -e burrow-shim SRC host:DST /m);
      assert.match(help.stdout, /rsync -a -e 'burrow shim'/);
      assert.doesNotMatch(help.stdout, /-S 'burrow shim'/);
      const none = await shim(s, []);
      assert.equal(none.code, 2);
      assert.equal(none.stdout, '');
      assert.match(none.stderr, /^usage: burrow shim/);
    }));

  it('refuses options ssh does not have with 255 and one line, before running ssh', async (t) =>
    withScope(t, async (s) => {
      for (const [args, line] of [
        [['--bogus', 'h', 'cmd'], "unknown ssh option --bogus (ssh's options are single letters)"],
        [['-4Z', 'h', 'cmd'], 'unknown ssh option -Z (in -4Z)'],
        [['-p'], 'option -p needs an argument'],
      ] as const) {
        const r = await shim(s, [...args]);
        assert.equal(r.code, 255, r.stderr);
        assert.equal(r.stderr, `burrow shim: ${line}\n`);
        assert.equal(r.stdout, '');
      }
    }));

  it('refuses a BURROW_SHIM_NATIVE other than 0, 1 or require with 255 and one line', async (t) =>
    withScope(t, async (s) => {
      // stdin a pipe (not a terminal): the setting is read.
      const r = await shim(s, ['h', 'cmd'], { BURROW_SHIM_NATIVE: 'yes' });
      assert.equal(r.code, 255, r.stderr);
      assert.equal(
        r.stderr,
        'burrow shim: BURROW_SHIM_NATIVE: expected 0, 1 or require, not "yes"\n',
      );
    }));

  it('is one file as built: the entry both ends load imports only Node modules', () => {
    // scripts/build.mjs bundles it (npm test builds with it): each end loads one file, not ~30.
    const entry = readFileSync(join(dirname(CLI_PATH), 'shim-command.js'), 'utf8');
    const imports = [...entry.matchAll(/(?:\bfrom|\bimport\s*\()\s*["']([^"']+)["']/g)].map(
      (m) => m[1],
    );
    assert.ok(imports.length > 0, 'it imports something');
    assert.deepEqual(
      imports.filter((i) => !i?.startsWith('node:')),
      [],
      'every relative import was bundled',
    );
    for (const fn of ['runServe', 'runLocal', 'runHolder', 'startSsh']) {
      assert.match(entry, new RegExp(`\\bfunction ${fn}\\(`), `${fn} is in the bundle`);
    }
  });

  // The first ssh starts before the rest of the local side has loaded, so these fail before it
  // listens: what they did must still reach it.
  for (const native of ['0', 'require']) {
    it(`an ssh that cannot be run, or exits at once, ends in 255 with its reason (BURROW_SHIM_NATIVE=${native})`, async (t) =>
      withScope(t, async (s) => {
        const missing = await shim(s, ['h', 'cmd'], { BURROW_SHIM_NATIVE: native });
        assert.equal(missing.code, 255, missing.stderr);
        assert.match(
          missing.stderr,
          /^burrow shim: cannot run \/nonexistent\/ssh-must-not-run: .*ENOENT/,
        );
        const dir = await tmpDir(s, 'burrow-shim-ssh-');
        const ssh = join(dir, 'ssh');
        const runs = join(dir, 'runs');
        writeFileSync(
          ssh,
          `#!/bin/sh\necho run >> ${runs}\necho "ssh: Could not resolve hostname h" >&2\nexit 255\n`,
        );
        chmodSync(ssh, 0o755);
        const t0 = Date.now();
        const failing = await shim(s, ['h', 'cmd'], {
          BURROW_SHIM_SSH: ssh,
          BURROW_SHIM_NATIVE: native,
        });
        // As ssh: its status and its line, once though every try repeats it.
        assert.equal(failing.code, 255, failing.stderr);
        assert.equal(failing.stderr, 'ssh: Could not resolve hostname h\n');
        assert.equal(readFileSync(runs, 'utf8'), 'run\n'.repeat(FIRST_CONNECT_TRIES));
        assert.ok(Date.now() - t0 < 10_000, `took ${Date.now() - t0} ms`);
      }));
  }
});

describe('burrow shim (native byte path)', () => shimCases('native'));
