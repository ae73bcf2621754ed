/**
 * `burrow shim` through a real burrow relay to a real sshd (the device registered by `burrow
 * agent`), with real rsync and scp: transfers that survive cut connections and relay restarts,
 * exit statuses, the resume window, and who may attach to a held session.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCommand, withScope } from './helpers/index.js';
import { CLI_PATH } from './helpers/relay.js';
import { describeShim } from './helpers/shim-cases.js';

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
});

describeShim('native');
