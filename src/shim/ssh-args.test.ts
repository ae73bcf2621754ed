import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSshArgs } from './ssh-args.js';

describe('parseSshArgs', () => {
  const cases: [
    name: string,
    argv: string[],
    want: { options: string[]; destination: string; command: string[]; subsystem?: boolean },
  ][] = [
    ['bare host', ['host'], { options: [], destination: 'host', command: [] }],
    [
      'host and command',
      ['h', 'ls', '-la'],
      { options: [], destination: 'h', command: ['ls', '-la'] },
    ],
    [
      'rsync -e',
      ['-l', 'u', 'host', 'rsync', '--server', '-vlogDtpre.iLsfxCIvu', '.', 'dst'],
      {
        options: ['-l', 'u'],
        destination: 'host',
        command: ['rsync', '--server', '-vlogDtpre.iLsfxCIvu', '.', 'dst'],
      },
    ],
    [
      'scp SFTP mode',
      [
        '-x',
        '-oPermitLocalCommand=no',
        '-oClearAllForwardings=yes',
        '-oRemoteCommand=none',
        '-oRequestTTY=no',
        '-oForwardAgent=no',
        '-l',
        'root',
        '-s',
        '--',
        'dev1',
        'sftp',
      ],
      {
        options: [
          '-x',
          '-oPermitLocalCommand=no',
          '-oClearAllForwardings=yes',
          '-oRemoteCommand=none',
          '-oRequestTTY=no',
          '-oForwardAgent=no',
          '-l',
          'root',
          '-s',
          '--',
        ],
        destination: 'dev1',
        command: ['sftp'],
        subsystem: true,
      },
    ],
    [
      'scp -O legacy mode',
      ['-x', '-oRequestTTY=no', '--', 'dev1', 'scp', '-t', '/tmp/x'],
      {
        options: ['-x', '-oRequestTTY=no', '--'],
        destination: 'dev1',
        command: ['scp', '-t', '/tmp/x'],
      },
    ],
    [
      'options with joined and separate arguments',
      ['-p22', '-J', 'relay', '-o', 'ConnectTimeout=5', '-F', '/cfg', 'u@h', 'true'],
      {
        options: ['-p22', '-J', 'relay', '-o', 'ConnectTimeout=5', '-F', '/cfg'],
        destination: 'u@h',
        command: ['true'],
      },
    ],
    [
      'combined flags ending in an option with its argument',
      ['-tvp', '2222', 'h'],
      { options: ['-tvp', '2222'], destination: 'h', command: [] },
    ],
    [
      'options after the destination, then the command',
      ['h', '-v', '-i', 'k', 'echo', '-n', 'x'],
      { options: ['-v', '-i', 'k'], destination: 'h', command: ['echo', '-n', 'x'] },
    ],
    [
      'after --, a dash word is the destination',
      ['--', '-weird-host', 'cmd'],
      { options: ['--'], destination: '-weird-host', command: ['cmd'] },
    ],
  ];
  for (const [name, argv, want] of cases) {
    it(name, () => {
      const got = parseSshArgs(argv);
      assert.deepEqual(got.options, want.options);
      assert.equal(got.destination, want.destination);
      assert.deepEqual(got.command, want.command);
      assert.equal(got.subsystem, want.subsystem ?? false);
      assert.deepEqual(got.unsupported, []);
    });
  }

  it('names options that do not run a command', () => {
    assert.deepEqual(parseSshArgs(['-N', '-f', 'h']).unsupported, ['-N', '-f']);
    assert.deepEqual(parseSshArgs(['-W', 'x:22', 'h']).unsupported, ['-W']);
  });

  const bad: [string[], RegExp][] = [
    [[], /no destination/],
    [['-v'], /no destination/],
    [['-p'], /-p needs an argument/],
    [['-Z', 'h'], /unknown ssh option -Z/],
    [['-tZ', 'h'], /unknown ssh option -Z/],
  ];
  for (const [argv, re] of bad) {
    it(`rejects ${JSON.stringify(argv)}`, () => assert.throws(() => parseSshArgs(argv), re));
  }
});
