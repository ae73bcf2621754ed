import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RepeatFilter } from './repeat-filter.js';

const text = (b: Buffer) => b.toString('latin1');

describe('RepeatFilter', () => {
  it("drops a line an earlier attempt printed, and passes the attempt's new lines", () => {
    const f = new RepeatFilter();
    assert.equal(
      text(f.push(Buffer.from('ssh: Could not resolve hostname x\n'))),
      'ssh: Could not resolve hostname x\n',
    );
    assert.equal(text(f.endAttempt()), '');
    assert.equal(
      text(f.push(Buffer.from('ssh: Could not resolve hostname x\nother\n'))),
      'other\n',
    );
    f.endAttempt();
    assert.equal(text(f.push(Buffer.from('other\r\n'))), '', 'a CRLF line matches its LF twin');
  });

  it('passes every repeat within one attempt (a working connection is never thinned out)', () => {
    const f = new RepeatFilter();
    assert.equal(text(f.push(Buffer.from('debug1: x\ndebug1: x\n'))), 'debug1: x\ndebug1: x\n');
    assert.equal(text(f.push(Buffer.from('debug1: x\n'))), 'debug1: x\n');
  });

  it('joins lines split across chunks, and prints an unfinished last line when the attempt ends', () => {
    const f = new RepeatFilter();
    assert.equal(text(f.push(Buffer.from('Connection re'))), '');
    assert.equal(text(f.push(Buffer.from('fused\nno newline'))), 'Connection refused\n');
    assert.equal(text(f.endAttempt()), 'no newline');
    assert.equal(text(f.push(Buffer.from('Connection refused\nno newline'))), '');
    assert.equal(text(f.endAttempt()), '', 'the unfinished line repeats too');
  });

  it('forgets earlier attempts once a connection succeeded', () => {
    const f = new RepeatFilter();
    f.push(Buffer.from('Connection refused\n'));
    f.endAttempt();
    f.reset();
    assert.equal(text(f.push(Buffer.from('Connection refused\n'))), 'Connection refused\n');
  });

  it('prints an endless line as it comes instead of holding it', () => {
    const f = new RepeatFilter();
    const junk = Buffer.alloc(100 * 1024, 0x41);
    assert.equal(f.push(junk).length, junk.length);
    assert.equal(f.endAttempt().length, 0);
  });
});
