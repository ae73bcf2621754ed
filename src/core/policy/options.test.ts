import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blobFor, keyLine } from '../../../test/fixtures/testkeys.js';
import { type KeyOption, parseKeyLine, parseOptionsField } from './options.js';

const KEY = `ssh-ed25519 ${blobFor('ssh-ed25519').toString('base64')}`;

describe('parseKeyLine: blank and comment lines', () => {
  for (const line of [
    '',
    '   ',
    '\t',
    '\r',
    '# a comment',
    '   # indented comment',
    '#ssh-ed25519',
  ]) {
    it(`skips ${JSON.stringify(line)}`, () => {
      assert.deepEqual(parseKeyLine(line), { kind: 'blank' });
    });
  }
});

describe('parseKeyLine: key fields', () => {
  const cases: { name: string; line: string; options: KeyOption[]; comment?: string }[] = [
    { name: 'bare key', line: KEY, options: [] },
    { name: 'key with comment', line: `${KEY} me@laptop`, options: [], comment: 'me@laptop' },
    {
      name: 'comment with inner blanks, trailing blanks trimmed',
      line: `  ${KEY}\t  my  laptop key  \r`,
      options: [],
      comment: 'my  laptop key',
    },
    {
      name: 'tabs between fields',
      line: `no-pty\t${KEY.replace(' ', '\t')}`,
      options: [{ name: 'no-pty' }],
    },
    {
      name: 'options and comment',
      line: `restrict,permitopen="dev1:22" ${KEY} c`,
      options: [{ name: 'restrict' }, { name: 'permitopen', value: 'dev1:22' }],
      comment: 'c',
    },
    {
      name: 'blanks and commas inside quotes stay in the value',
      line: `command="echo a, b",from="10.0.0.0/8" ${KEY}`,
      options: [
        { name: 'command', value: 'echo a, b' },
        { name: 'from', value: '10.0.0.0/8' },
      ],
    },
    {
      name: 'escaped quote inside a value',
      line: `command="say \\"hi there\\"" ${KEY}`,
      options: [{ name: 'command', value: 'say "hi there"' }],
    },
    {
      name: 'backslash not before a quote is literal',
      line: `command="a\\b\\\\c" ${KEY}`,
      options: [{ name: 'command', value: 'a\\b\\\\c' }],
    },
    {
      name: 'empty value',
      line: `command="" ${KEY}`,
      options: [{ name: 'command', value: '' }],
    },
    {
      name: 'option names are case-insensitive and lower-cased',
      line: `No-Port-Forwarding,PermitListen="Dev1:22",NO-X11-FORWARDING ${KEY}`,
      options: [
        { name: 'no-port-forwarding' },
        { name: 'permitlisten', value: 'Dev1:22' },
        { name: 'no-x11-forwarding' },
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const parsed = parseKeyLine(c.line);
      assert.equal(parsed.kind, 'key', JSON.stringify(parsed));
      if (parsed.kind !== 'key') return;
      assert.deepEqual(parsed.key.options, c.options);
      assert.equal(parsed.key.keyType, 'ssh-ed25519');
      assert.deepEqual(parsed.key.keyBlob, blobFor('ssh-ed25519'));
      assert.equal(parsed.key.comment, c.comment);
    });
  }

  it('reads every supported key type', () => {
    for (const type of [
      'ssh-rsa',
      'ecdsa-sha2-nistp256',
      'ecdsa-sha2-nistp384',
      'ecdsa-sha2-nistp521',
      'sk-ssh-ed25519@openssh.com',
      'sk-ecdsa-sha2-nistp256@openssh.com',
    ] as const) {
      const parsed = parseKeyLine(keyLine('no-pty', 's', 'c', type));
      assert.equal(parsed.kind === 'key' && parsed.key.keyType, type);
    }
  });
});

describe('parseKeyLine: invalid lines', () => {
  const ed = blobFor('ssh-ed25519').toString('base64');
  const cases: { name: string; line: string; message: string }[] = [
    { name: 'unsupported type', line: `ssh-dss ${ed}`, message: 'unsupported key type "ssh-dss"' },
    {
      name: 'certificate type',
      line: `ssh-ed25519-cert-v01@openssh.com ${ed}`,
      message: 'unsupported key type "ssh-ed25519-cert-v01@openssh.com"',
    },
    { name: 'type without data', line: 'ssh-ed25519', message: 'no key data after "ssh-ed25519"' },
    {
      name: 'type then blanks',
      line: 'ssh-ed25519   ',
      message: 'no key data after "ssh-ed25519"',
    },
    { name: 'options only', line: 'no-pty', message: 'no key after the options' },
    {
      name: 'garbage word',
      line: 'hello world',
      message: 'not a key line (expected: [options] key-type base64-key [comment])',
    },
    {
      name: 'options then unknown type',
      line: `no-pty ssh-foo ${ed}`,
      message: 'unsupported key type "ssh-foo"',
    },
    { name: 'bad base64', line: 'ssh-ed25519 AAAA$$$$', message: 'key data is not valid base64' },
    {
      name: 'declared type differs from blob',
      line: `ecdsa-sha2-nistp256 ${ed}`,
      message: 'key data is a "ssh-ed25519" key but the line says "ecdsa-sha2-nistp256"',
    },
    {
      name: 'unterminated quote',
      line: `command="oops ${KEY}`,
      message: 'unterminated quote in options',
    },
    {
      name: 'unknown option',
      line: `permitopn="a:1" ${KEY}`,
      message: 'unknown option "permitopn"',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(parseKeyLine(c.line), { kind: 'invalid', message: c.message });
    });
  }
});

describe('parseOptionsField', () => {
  const errors: { field: string; message: string }[] = [
    { field: 'frobnicate', message: 'unknown option "frobnicate"' },
    { field: 'Frob="x"', message: 'unknown option "Frob"' },
    { field: 'no-restrict', message: 'unknown option "no-restrict"' },
    { field: 'no-cert-authority', message: 'unknown option "no-cert-authority"' },
    { field: 'pty="yes"', message: 'option "pty" takes no value' },
    { field: 'from', message: 'option "from" needs ="value"' },
    { field: 'from=10.0.0.1', message: 'option "from" needs a value in quotes' },
    { field: 'command="abc', message: 'option "command" is missing its closing quote' },
    { field: 'command="abc\\"', message: 'option "command" is missing its closing quote' },
    { field: 'from="a"b', message: 'unexpected text after option "from"' },
    { field: 'no-pty,', message: 'options list ends with ","' },
    { field: ',no-pty', message: 'empty option in the options list' },
    { field: 'no-pty,,no-pty', message: 'empty option in the options list' },
    { field: 'ptyx', message: 'unknown option "ptyx"' },
  ];
  for (const c of errors) {
    it(`refuses ${c.field}`, () => {
      assert.deepEqual(parseOptionsField(c.field), { ok: false, message: c.message });
    });
  }

  it('accepts every standard OpenSSH option', () => {
    const field = [
      'restrict',
      'cert-authority',
      'pty',
      'no-pty',
      'agent-forwarding',
      'no-agent-forwarding',
      'x11-forwarding',
      'no-X11-forwarding',
      'port-forwarding',
      'no-port-forwarding',
      'user-rc',
      'no-user-rc',
      'touch-required',
      'no-touch-required',
      'verify-required',
      'no-verify-required',
      'command="c"',
      'principals="p"',
      'from="f"',
      'expiry-time="20300101"',
      'environment="A=b"',
      'permitopen="a:1"',
      'permitlisten="a:1"',
      'tunnel="any"',
    ].join(',');
    const parsed = parseOptionsField(field);
    assert.ok(parsed.ok, JSON.stringify(parsed));
    assert.equal(parsed.options.length, 24);
    assert.deepEqual(parsed.options[7], { name: 'no-x11-forwarding' });
    assert.deepEqual(parsed.options[23], { name: 'tunnel', value: 'any' });
  });

  it('bounds and escapes hostile option names in messages', () => {
    const parsed = parseOptionsField(`\u001b[31m${'x'.repeat(200)}`);
    assert.equal(parsed.ok, false);
    if (parsed.ok) return;
    assert.ok(!parsed.message.includes('\u001b'), parsed.message);
    assert.ok(parsed.message.includes('\\u001b'), parsed.message);
    assert.ok(parsed.message.length < 100, parsed.message);
  });
});
