import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blobFor, keyLine } from '../../../test/fixtures/testkeys.js';
import { addedComment, addKeyLine, findKeyLines, isAddedComment, removeKeyLines } from './edit.js';
import { fingerprint } from './keys.js';

const A = blobFor('ssh-ed25519', 'a');
const B = blobFor('ssh-ed25519', 'b');
const FP_A = fingerprint(A);
const lineA = (options = 'permitopen="x:1"') => keyLine(options, 'a', 'alice');
const lineB = keyLine('permitlisten="dev1:22"', 'b', 'dev');
const AT = new Date('2030-01-02T03:04:05.000Z');
const commentA = addedComment(FP_A, 'open x:1', AT);

describe('addedComment / isAddedComment', () => {
  it('writes the time, the fingerprint and the permits', () => {
    assert.equal(commentA, `# added 2030-01-02T03:04:05.000Z by burrow keys add: ${FP_A} open x:1`);
  });
  const cases: [string, string, boolean][] = [
    ['its own comment', commentA, true],
    ['with CR', `${commentA}\r`, true],
    ['for another key', addedComment(fingerprint(B), 'open x:1', AT), false],
    ['a user comment naming the key', `# alice's key ${FP_A} open`, false],
    ['a key line', lineA(), false],
  ];
  for (const [name, raw, want] of cases) {
    it(`${want ? 'recognises' : 'ignores'} ${name}`, () => {
      assert.equal(isAddedComment(raw, FP_A), want);
    });
  }
});

describe('findKeyLines', () => {
  const text = [
    '# header',
    lineB,
    lineA(),
    `# ${lineA()}`,
    lineA('bogus-option'),
    lineA('permitopen="x:2"'),
    '',
  ].join('\n');
  const cases: [string, Parameters<typeof findKeyLines>[1], number[]][] = [
    ['by blob, also on a line the relay skips, never in a comment', { blob: A }, [3, 5, 6]],
    ['by fingerprint', { fingerprint: FP_A }, [3, 5, 6]],
    ['another key', { blob: B }, [2]],
    ['an absent key', { fingerprint: fingerprint(blobFor('ssh-ed25519', 'z')) }, []],
  ];
  for (const [name, match, want] of cases) {
    it(name, () => assert.deepEqual(findKeyLines(text, match), want));
  }
});

describe('addKeyLine', () => {
  const NEW = lineA('permitopen="y:1"');
  const cases: { name: string; before: string; replace: boolean; after: string | number[] }[] = [
    { name: 'to an empty file', before: '', replace: false, after: `${commentA}\n${NEW}\n` },
    {
      name: 'after the last line',
      before: `# mine\n${lineB}\n`,
      replace: false,
      after: `# mine\n${lineB}\n${commentA}\n${NEW}\n`,
    },
    {
      name: 'after a last line with no line ending',
      before: `# mine\n${lineB}`,
      replace: false,
      after: `# mine\n${lineB}\n${commentA}\n${NEW}\n`,
    },
    {
      name: 'with CRLF in a CRLF file',
      before: `# mine\r\n${lineB}\r\n`,
      replace: false,
      after: `# mine\r\n${lineB}\r\n${commentA}\r\n${NEW}\r\n`,
    },
    {
      name: 'refusing a key already there',
      before: `${lineB}\n${lineA()}\n`,
      replace: false,
      after: [2],
    },
    {
      name: 'replacing in place, with burrow comment, and dropping other copies',
      before: `# top\n${addedComment(FP_A, 'old', AT)}\n${lineA()}\n${lineB}\n${lineA('x')}\n# end\n`,
      replace: true,
      after: `# top\n${commentA}\n${NEW}\n${lineB}\n# end\n`,
    },
    {
      name: 'replacing keeps a user comment above',
      before: `# alice, ask her first\n${lineA()}\n`,
      replace: true,
      after: `# alice, ask her first\n${commentA}\n${NEW}\n`,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = addKeyLine(c.before, A, commentA, NEW, c.replace);
      if (Array.isArray(c.after)) {
        assert.deepEqual(r, { ok: false, lines: c.after });
      } else {
        assert.ok(r.ok);
        assert.equal(r.text, c.after);
      }
    });
  }
});

describe('removeKeyLines', () => {
  const cases: {
    name: string;
    before: string;
    match: Parameters<typeof removeKeyLines>[1];
    after?: string;
    removed?: number;
  }[] = [
    {
      name: 'a line and its burrow comment',
      before: `# top\n${commentA}\n${lineA()}\n${lineB}\n`,
      match: { fingerprint: FP_A },
      after: `# top\n${lineB}\n`,
      removed: 2,
    },
    {
      name: 'every copy, keeping user comments and CRLF',
      before: `# alice\r\n${lineA()}\r\n${lineB}\r\n${lineA('junk')}\r\n`,
      match: { blob: A },
      after: `# alice\r\n${lineB}\r\n`,
      removed: 2,
    },
    {
      name: 'a last line with no line ending',
      before: `${lineB}\n${lineA()}`,
      match: { blob: A },
      after: `${lineB}`,
      removed: 1,
    },
    { name: 'nothing when absent', before: `${lineB}\n`, match: { blob: A } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = removeKeyLines(c.before, c.match);
      if (c.after === undefined) {
        assert.deepEqual(r, { ok: false });
        return;
      }
      assert.ok(r.ok);
      assert.equal(r.text, c.after);
      assert.equal(r.removed, c.removed);
      assert.equal(r.fingerprint, FP_A);
    });
  }
});
