import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command, InvalidArgumentError, Option } from 'commander';
import { applyConfigFile, type ConfigEntry, parseConfigFile } from './config-file.js';

describe('parseConfigFile', () => {
  const good: [string, string, ConfigEntry[]][] = [
    [
      'key value',
      'relay relay1:2222,relay2:2222',
      [{ key: 'relay', value: 'relay1:2222,relay2:2222', line: 1 }],
    ],
    [
      'key = value',
      'forward = 22=localhost:22',
      [{ key: 'forward', value: '22=localhost:22', line: 1 }],
    ],
    [
      'key=value',
      'forward=22=localhost:22',
      [{ key: 'forward', value: '22=localhost:22', line: 1 }],
    ],
    ['key alone', 'accept-new', [{ key: 'accept-new', value: true, line: 1 }]],
    ['boolean word', 'accept-new no', [{ key: 'accept-new', value: 'no', line: 1 }]],
    ['# only at line start', 'tag a#b', [{ key: 'tag', value: 'a#b', line: 1 }]],
    ['quotes keep spaces', 'name "  a b "', [{ key: 'name', value: '  a b ', line: 1 }]],
    [
      'quote escapes',
      'name = "say \\"hi\\" c:\\\\x"',
      [{ key: 'name', value: 'say "hi" c:\\x', line: 1 }],
    ],
    ['empty quoted', 'name ""', [{ key: 'name', value: '', line: 1 }]],
    [
      'line and paragraph separators in quotes',
      'name "a\u2028b\u2029"',
      [{ key: 'name', value: 'a\u2028b\u2029', line: 1 }],
    ],
    [
      'comments, blank lines, CRLF, repeats',
      '# burrow agent\r\n\r\n  # indented comment\r\nforward a\r\n\tforward   b  \r\n',
      [
        { key: 'forward', value: 'a', line: 4 },
        { key: 'forward', value: 'b', line: 5 },
      ],
    ],
    ['empty file', '', []],
  ];
  for (const [what, text, want] of good) {
    it(what, () => assert.deepEqual(parseConfigFile(text, 'a.conf'), want));
  }

  const bad: [string, string, RegExp][] = [
    ['upper-case key', 'relay x\nRelay SECRET', /^a\.conf:2: expected a setting name/],
    ['key with dashes', '--relay SECRET', /^a\.conf:1: expected a setting name/],
    ['no key', '= SECRET', /^a\.conf:1: expected a setting name/],
    ['"=" without value', 'relay x\n\nrelay =', /^a\.conf:3: "relay =" has no value/],
    ['unquoted spaces', 'name SECRET word', /^a\.conf:1: the value of "name" contains spaces/],
    [
      'unterminated quote',
      'name "SECRET',
      /^a\.conf:1: the quoted value of "name" has no closing quote/,
    ],
    ['text after quote', 'name "SECRET" x', /^a\.conf:1: text after the closing quote of "name"/],
    ['unknown escape', 'name "SECRET\\n"', /^a\.conf:1: only \\" and \\\\ may follow a backslash/],
  ];
  for (const [what, text, want] of bad) {
    it(`refuses ${what}, naming the line and not the value`, () =>
      assert.throws(
        () => parseConfigFile(text, 'a.conf'),
        (err: Error) => want.test(err.message) && !err.message.includes('SECRET'),
      ));
  }
});

/** A command like burrow's: plain string options, env-backed ones, booleans, repeatables. */
function agentCommand(): Command {
  return new Command('agent')
    .exitOverride()
    .addOption(new Option('--name <name>', 'device name').default('dflt'))
    .addOption(new Option('--relay <list>', 'relays').env('BURROW_X'))
    .addOption(new Option('--listen <host:port>', 'listen').default('0.0.0.0:2222'))
    .addOption(new Option('--forward <spec...>', 'forwards'))
    .addOption(new Option('--tag <t>', 'tags').argParser(collect).default([]))
    .addOption(new Option('--count <n>', 'count').argParser(parsePositive))
    .addOption(
      new Option('--log-level <level>', 'level').choices(['info', 'debug']).default('info'),
    )
    .addOption(new Option('--proto <p...>', 'protocols').choices(['tcp', 'udp']))
    .addOption(new Option('--accept-new', 'trust a new host key'))
    .addOption(new Option('--no-color', 'plain output'))
    .action(() => {});
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parsePositive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive count.');
  return n;
}

interface Run {
  readonly cmd: Command;
  value(attr: string): unknown;
  source(attr: string): string | undefined;
}

/** Parses `argv` with `env` set and the config applied in a preAction hook, as a subcommand would. */
function run(argv: string[], config: string, env: Record<string, string> = {}): Run {
  const cmd = agentCommand();
  cmd.hook('preAction', (c) =>
    applyConfigFile(c, parseConfigFile(config, 'test.conf'), 'test.conf'),
  );
  const saved = Object.keys(env).map((k) => [k, process.env[k]] as const);
  Object.assign(process.env, env);
  try {
    cmd.parse(argv, { from: 'user' });
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  return { cmd, value: (a) => cmd.getOptionValue(a), source: (a) => cmd.getOptionValueSource(a) };
}

describe('applyConfigFile', () => {
  const precedence: [string, string, string[], Record<string, string>, string, unknown, string][] =
    [
      [
        'cli beats env and config',
        'relay',
        ['--relay', 'c:1'],
        { BURROW_X: 'e:1' },
        'relay f:1',
        'c:1',
        'cli',
      ],
      ['env beats config', 'relay', [], { BURROW_X: 'e:1' }, 'relay f:1', 'e:1', 'env'],
      ['config beats nothing', 'relay', [], {}, 'relay f:1', 'f:1', 'config'],
      ['config beats a default', 'listen', [], {}, 'listen :22', ':22', 'config'],
      ['a default stays without config', 'listen', [], {}, '', '0.0.0.0:2222', 'default'],
      ['cli beats config', 'listen', ['--listen', ':1'], {}, 'listen :22', ':1', 'cli'],
    ];
  for (const [what, attr, argv, env, config, want, source] of precedence) {
    it(what, () => {
      const r = run(argv, config, env);
      assert.equal(r.value(attr), want);
      assert.equal(r.source(attr), source);
    });
  }

  it('collects a variadic flag from several lines; the command line replaces them', () => {
    assert.deepEqual(
      run([], 'forward 22=localhost:22\nforward 80=localhost:8080').value('forward'),
      ['22=localhost:22', '80=localhost:8080'],
    );
    assert.deepEqual(run(['--forward', 'c'], 'forward a\nforward b').value('forward'), ['c']);
  });

  it('collects a variadic flag with choices, never adding to the command line’s array', () => {
    assert.deepEqual(run([], 'proto tcp\nproto udp').value('proto'), ['tcp', 'udp']);
    assert.deepEqual(run(['--proto', 'tcp'], 'proto udp').value('proto'), ['tcp']);
  });

  it('collects through a custom collect parser, leaving its default untouched', () => {
    const r = run([], 'tag x\ntag y');
    assert.deepEqual(r.value('tag'), ['x', 'y']);
    assert.deepEqual(agentCommand().getOptionValue('tag'), []);
    assert.deepEqual(run(['--tag', 'z'], 'tag x').value('tag'), ['z']);
  });

  const booleans: [string, string, boolean][] = [
    ['accept-new', 'acceptNew', true],
    ...['true', 'yes', 'on', '1', 'YES'].map((w): [string, string, boolean] => [
      `accept-new ${w}`,
      'acceptNew',
      true,
    ]),
    ...['false', 'no', 'off', '0'].map((w): [string, string, boolean] => [
      `accept-new = ${w}`,
      'acceptNew',
      false,
    ]),
    ['no-color', 'color', false],
    ['no-color no', 'color', true],
  ];
  for (const [line, attr, want] of booleans) {
    it(`"${line}" sets ${attr} to ${want}`, () => assert.equal(run([], line).value(attr), want));
  }

  it('passes values through the option’s argParser and choices, naming the line', () => {
    assert.equal(run([], 'count 3').value('count'), 3);
    assert.equal(run([], 'log-level debug').value('logLevel'), 'debug');
    assert.throws(
      () => run([], '\ncount 0'),
      /^BurrowError: test\.conf:2: count: expected a positive count\./,
    );
    assert.throws(
      () => run([], 'log-level loud'),
      /test\.conf:1: log-level: .*Allowed choices are info, debug/,
    );
  });

  const errors: [string, string, RegExp][] = [
    [
      'unknown key',
      'name n\nrelya SECRET',
      /^test\.conf:2: unknown setting "relya": `agent` has no --relya$/,
    ],
    [
      'non-repeatable key twice',
      'relay a\n# x\nrelay SECRET',
      /^test\.conf:3: "relay" was already set on line 1/,
    ],
    [
      'boolean twice',
      'accept-new\naccept-new no',
      /^test\.conf:2: "accept-new" was already set on line 1/,
    ],
    ['bad boolean word', 'accept-new SECRET', /^test\.conf:1: accept-new: expected yes or no/],
    ['value missing', 'relay', /^test\.conf:1: relay: needs a value$/],
  ];
  for (const [what, config, want] of errors) {
    it(`refuses ${what} without repeating the value or setting anything`, () => {
      const cmd = agentCommand();
      assert.throws(
        () => applyConfigFile(cmd, parseConfigFile(config, 'test.conf'), 'test.conf'),
        (err: Error) => want.test(err.message) && !err.message.includes('SECRET'),
      );
      assert.equal(cmd.getOptionValue('name'), 'dflt');
      assert.equal(cmd.getOptionValue('relay'), undefined);
    });
  }
});
