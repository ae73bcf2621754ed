import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blobFor } from '../../test/fixtures/testkeys.js';
import { judgeKnownHosts } from './host-key-trust.js';
import { knownHostsLine } from './known-hosts.js';

const A = blobFor('ssh-ed25519', 'a');
const B = blobFor('ssh-ed25519', 'b');
const lineA = knownHostsLine('relay', 2222, A);
const base = { file: '/kh', host: 'relay', port: 2222, keyBlob: A };

describe('judgeKnownHosts', () => {
  const cases: {
    name: string;
    text: string | { readError: string };
    acceptNew: boolean;
    want: string;
  }[] = [
    { name: 'a key on file', text: `${lineA}\n`, acceptNew: false, want: 'ok' },
    { name: 'unknown, no accept-new', text: '', acceptNew: false, want: 'unknown' },
    { name: 'unknown, empty file', text: '', acceptNew: true, want: `append ${lineA}\n` },
    {
      name: 'unknown, last line without newline',
      text: '# comment',
      acceptNew: true,
      want: `append \n${lineA}\n`,
    },
    {
      name: 'another key on file is never overridden',
      text: `${knownHostsLine('relay', 2222, B)}\n`,
      acceptNew: true,
      want: 'mismatch',
    },
    {
      name: 'a revoked key is never recorded',
      text: `@revoked * ssh-ed25519 ${A.toString('base64')}\n`,
      acceptNew: true,
      want: 'revoked',
    },
    { name: 'an unreadable file', text: { readError: 'EACCES' }, acceptNew: true, want: 'unknown' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = judgeKnownHosts({ ...base, text: c.text, acceptNew: c.acceptNew });
      const got = 'append' in d ? `append ${d.append}` : d.ok ? 'ok' : d.reason;
      assert.equal(got, c.want);
    });
  }

  it('names the errno of an unreadable file in one line', () => {
    const d = judgeKnownHosts({ ...base, text: { readError: 'EACCES' }, acceptNew: false });
    assert.ok(!('append' in d) && !d.ok);
    assert.match(d.message, /cannot read \/kh \(EACCES\)/);
  });
});
