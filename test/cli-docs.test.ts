/**
 * What burrow says about itself: every --help fits 80 columns, and the completion scripts and
 * the man page generated from the command tree work in real bash, zsh and man, used exactly as
 * the README shows (`source <(burrow completion bash)`, `burrow man > …/burrow.1`).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { allCommands, commandTree } from '../src/cli/command-tree.js';
import { buildProgram } from '../src/cli/program.js';
import { runCommand, type Scope, tmpDir, withScope } from './helpers/index.js';
import { CLI_PATH } from './helpers/relay.js';

/** A directory holding a `burrow` executable, to put first on PATH. */
async function burrowOnPath(s: Scope): Promise<{ dir: string; env: Record<string, string> }> {
  const dir = await tmpDir(s);
  writeFileSync(join(dir, 'burrow'), `#!/bin/sh\nexec '${process.execPath}' '${CLI_PATH}' "$@"\n`, {
    mode: 0o755,
  });
  return { dir, env: { PATH: `${dir}:${process.env.PATH ?? ''}` } };
}

const tree = commandTree(buildProgram());
const paths = allCommands(tree).map((n) => n.path);

describe('burrow --help', () => {
  it('lists every command, and each help fits 80 columns with COLUMNS=80', async (t) =>
    withScope(t, async (s) => {
      assert.deepEqual(
        tree.commands.map((c) => c.path[0]),
        [
          'serve',
          'relay',
          'coordinator',
          'agent',
          'ls',
          'keys',
          'otssh',
          'shim',
          'completion',
          'man',
          'help',
        ],
      );
      // `burrow help` and `burrow keys help` print their parent's help.
      const runs = paths.map((p) => (p.at(-1) === 'help' ? [...p] : [...p, '--help']));
      for (const args of runs) {
        const r = await runCommand(s, process.execPath, [CLI_PATH, ...args], {
          env: { COLUMNS: '80' },
        });
        const cmd = `burrow ${args.join(' ')}`;
        assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
        assert.ok(r.stdout.length > 100, `${cmd} printed its help`);
        for (const line of r.stdout.split('\n')) {
          assert.ok([...line].length <= 80, `${cmd}: ${[...line].length} columns: ${line}`);
        }
      }
    }));
});

describe('burrow completion', () => {
  const BASH_PROBE = (words: string[]) =>
    `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; ` +
    `_burrow; echo "[${words.join(' ')}] \${COMPREPLY[*]}"`;

  it('bash: completes commands, subcommands, long options and choices', async (t) =>
    withScope(t, async (s) => {
      const { dir, env } = await burrowOnPath(s);
      const cases: [string[], string][] = [
        [['burrow', 're'], 'relay'],
        [['burrow', 'relay', '--lis'], '--listen'],
        [['burrow', 'agent', ''], 'status systemd-unit'],
        [['burrow', 'agent', 'st'], 'status'],
        [['burrow', 'agent', 'status', '--j'], '--json'],
        [['burrow', 'agent', '--log-format', ''], 'json text'],
        [['burrow', 'relay', '--log-level', 'w'], 'warn'],
        [['burrow', 'relay', '--listen', 'rel'], ''], // a value, not the command: no file of that name
        [['burrow', 'co'], 'coordinator completion'],
        [['burrow', 'se'], 'serve'],
        [['burrow', 'serve', '--ht'], '--http'],
        [['burrow', 'serve', '--lis'], '--listen'],
        [['burrow', 'ls', '--'], '--coordinator --help --json --limit --token-file'],
        [
          ['burrow', 'relay', '--log-format', 'text', '--au'],
          '--audit-log --auth-webhook --auth-webhook-timeout --authorized-keys',
        ],
      ];
      const script = [
        'source <(burrow completion bash)',
        ...cases.map(([words]) => BASH_PROBE(words)),
      ].join('\n');
      const r = await runCommand(s, 'bash', ['--norc', '--noprofile', '-c', script], {
        env,
        cwd: dir,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      const got = r.stdout.trim().split('\n');
      cases.forEach(([words, want], i) => {
        const reply = (got[i] ?? '').replace(/^\[[^\]]*\] ?/, '');
        assert.equal(
          reply.split(' ').sort().join(' '),
          want.split(' ').sort().join(' '),
          words.join(' '),
        );
      });
      // Saved as a file, as /etc/bash_completion.d/burrow, it registers itself.
      const saved = join(dir, 'burrow.bash');
      const save = await runCommand(s, 'bash', ['-c', `burrow completion bash > '${saved}'`], {
        env,
      });
      assert.equal(save.code, 0, save.stderr);
      const reg = await runCommand(s, 'bash', [
        '--norc',
        '-c',
        `source '${saved}'; complete -p burrow`,
      ]);
      assert.match(reg.stdout, /complete .*-F _burrow burrow/);
    }));

  it('zsh: the script parses, and its completion function offers the same words', async (t) =>
    withScope(t, async (s) => {
      const which = await runCommand(s, 'sh', ['-c', 'command -v zsh']);
      assert.equal(which.code, 0, 'zsh is not installed: apt-get install -y zsh');
      const { dir, env } = await burrowOnPath(s);
      const file = join(dir, '_burrow');
      assert.equal(
        (await runCommand(s, 'sh', ['-c', `burrow completion zsh > '${file}'`], { env })).code,
        0,
      );
      const syntax = await runCommand(s, 'zsh', ['-n', file]);
      assert.equal(syntax.code, 0, syntax.stderr);
      // zsh's completion builtins stand in as recorders; the generated logic runs for real.
      const script = [
        'compdef() { print -r -- "compdef $*"; }',
        'compadd() { [[ $1 == -- ]] && shift; print -r -- "compadd $*"; }',
        '_files() { print -r -- "_files"; }',
        'source <(burrow completion zsh)',
        't() { words=("$@"); CURRENT=$#words; _burrow; }',
        't burrow re',
        't burrow relay --lis',
        "t burrow agent ''",
        "t burrow agent --log-format ''",
        "t burrow relay --host-key ''",
      ].join('\n');
      const r = await runCommand(s, 'zsh', ['-f', '-c', script], { env });
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines[0], 'compdef _burrow burrow');
      assert.match(
        lines[1] ?? '',
        /^compadd serve relay coordinator agent ls keys otssh shim completion man help$/,
      );
      assert.match(lines[2] ?? '', /^compadd .*--listen /);
      assert.equal(lines[3], 'compadd status systemd-unit');
      assert.equal(lines[4], 'compadd json text');
      assert.equal(lines[5], '_files');
    }));

  it('rejects an unknown shell with exit 2 naming the choices', async (t) =>
    withScope(t, async (s) => {
      const r = await runCommand(s, process.execPath, [CLI_PATH, 'completion', 'fish']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /'fish' is invalid.*Allowed choices are bash, zsh/);
    }));
});

describe('burrow man', () => {
  it('renders with man -l without warnings, naming every command and option', async (t) =>
    withScope(t, async (s) => {
      const { dir, env } = await burrowOnPath(s);
      const page = join(dir, 'burrow.1');
      const save = await runCommand(s, 'sh', ['-c', `burrow man > '${page}'`], { env });
      assert.equal(save.code, 0, save.stderr);
      const r = await runCommand(s, 'man', ['--warnings', '-l', page], {
        env: { MANWIDTH: '80', MANPAGER: 'cat', PAGER: 'cat', LANG: 'C.UTF-8' },
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '', 'no warnings from groff');
      const text = r.stdout;
      for (const section of [
        'NAME',
        'SYNOPSIS',
        'DESCRIPTION',
        'COMMANDS',
        'ENVIRONMENT',
        'FILES',
        'EXIT STATUS',
      ])
        assert.match(text, new RegExp(`^${section}$`, 'm'), section);
      for (const node of allCommands(tree).slice(1))
        assert.ok(text.includes(`burrow ${node.path.join(' ')}`), node.path.join(' '));
      for (const node of allCommands(tree))
        for (const o of node.options) if (o.long) assert.ok(text.includes(o.long), o.long);
      for (const env of ['BURROW_LISTEN', 'BURROW_LOG_FORMAT', 'BURROW_DATA_DIR', '~/.burrow'])
        assert.ok(text.includes(env), env);
      for (const line of text.split('\n')) assert.ok([...line].length <= 80, line);
    }));
});
