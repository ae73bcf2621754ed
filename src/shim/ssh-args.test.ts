import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSshArgs, SshArgsError, type SshArgsErrorCode } from './ssh-args.js';

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
    [
      '-s combined after another flag',
      ['-Ts', 'host', 'sftp'],
      { options: ['-Ts'], destination: 'host', command: ['sftp'], subsystem: true },
    ],
    [
      '-s combined before another flag',
      ['-sT', 'host', 'sftp'],
      { options: ['-sT'], destination: 'host', command: ['sftp'], subsystem: true },
    ],
    [
      '-s combined before an option with its argument',
      ['-sp2222', 'host', 'sftp'],
      { options: ['-sp2222'], destination: 'host', command: ['sftp'], subsystem: true },
    ],
    [
      '-s followed by an option with a separate argument',
      ['-s', '-p', '2222', 'host', 'sftp'],
      { options: ['-s', '-p', '2222'], destination: 'host', command: ['sftp'], subsystem: true },
    ],
    [
      '-s after -o with a separate argument',
      ['-o', 'X=Y', '-s', 'host', 'sftp'],
      { options: ['-o', 'X=Y', '-s'], destination: 'host', command: ['sftp'], subsystem: true },
    ],
    [
      '-s after the destination',
      ['host', '-s', 'sftp'],
      { options: ['-s'], destination: 'host', command: ['sftp'], subsystem: true },
    ],
    [
      'an s inside the argument of -o is not -s',
      ['-os', 'host', 'sftp'],
      { options: ['-os'], destination: 'host', command: ['sftp'] },
    ],
    [
      'an s as the separate argument of -l is not -s',
      ['-l', 's', 'host', 'sftp'],
      { options: ['-l', 's'], destination: 'host', command: ['sftp'] },
    ],
    [
      // ssh asks for a login shell when there is no command, -s or not.
      '-s without a command: no command',
      ['-s', 'host'],
      { options: ['-s'], destination: 'host', command: [], subsystem: true },
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

  // Whether ssh would ask for a pty (the shim then runs plain ssh): ssh applies -t, -T and
  // -o RequestTTY in order, and a t inside another option's argument is not -t.
  const ttyCases: [string[], boolean][] = [
    [['-t', 'h', 'top'], true],
    [['-tt', 'h', 'top'], true],
    [['-vt', 'h', 'top'], true],
    [['-t', '-T', 'h', 'cmd'], false],
    [['-T', '-t', 'h', 'top'], true],
    [['-oRequestTTY=force', 'h', 'top'], true],
    [['-o', 'RequestTTY yes', 'h', 'top'], true],
    [['-o', 'requesttty=Yes', 'h', 'top'], true],
    [['-t', '-oRequestTTY=no', 'h', 'cmd'], false],
    [['-oRequestTTY=no', 'h', 'cmd'], false],
    [['-lroot', 'h', 'cmd'], false],
    [['-S/tmp/ctl', '-F/etc/ssh/cfg', '-i', 'id_test', 'h', 'cmd'], false],
    [['-oStrictHostKeyChecking=no', 'h', 'cmd'], false],
    [['h', 'cmd', '-t'], false],
  ];
  for (const [argv, tty] of ttyCases) {
    it(`${JSON.stringify(argv)} ${tty ? 'asks' : 'does not ask'} for a pty`, () =>
      assert.equal(parseSshArgs(argv).tty, tty));
  }

  const verboseCases: [string[], boolean][] = [
    [['-v', 'h', 'cmd'], true],
    [['-vvv', 'h', 'cmd'], true],
    [['-4v', 'h', 'cmd'], true],
    [['h', '-v', 'cmd'], true],
    [['-lv', 'h', 'cmd'], false], // -l takes "v" as the user name
    [['-oLogLevel=v', 'h', 'cmd'], false],
    [['h', 'cmd', '-v'], false], // the command's own flag
  ];
  for (const [argv, verbose] of verboseCases) {
    it(`${JSON.stringify(argv)} is ${verbose ? '' : 'not '}verbose`, () =>
      assert.equal(parseSshArgs(argv).verbose, verbose));
  }

  const bad: [string[], RegExp, SshArgsErrorCode][] = [
    [[], /no destination/, 'no-destination'],
    [['-v'], /no destination/, 'no-destination'],
    [['-p'], /-p needs an argument/, 'missing-argument'],
    [['-s'], /no destination/, 'no-destination'],
    [['-sp', 'host'], /no destination/, 'no-destination'],
    [['-sp'], /-p needs an argument/, 'missing-argument'],
    [['-sZ', 'h', 'sftp'], /unknown ssh option -Z/, 'unknown-option'],
    [['-Z', 'h'], /unknown ssh option -Z/, 'unknown-option'],
    [['-tZ', 'h'], /unknown ssh option -Z \(in -tZ\)/, 'unknown-option'],
    [
      ['--bogus', 'h', 'cmd'],
      /unknown ssh option --bogus \(ssh's options are single letters\)/,
      'unknown-option',
    ],
  ];
  for (const [argv, re, code] of bad) {
    it(`rejects ${JSON.stringify(argv)} (${code})`, () =>
      assert.throws(
        () => parseSshArgs(argv),
        (e) => e instanceof SshArgsError && e.code === code && re.test(e.message),
      ));
  }
});
