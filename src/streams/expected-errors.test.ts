import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import {
  EXPECTED_SHUTDOWN_ERRORS,
  ignoreExpectedErrors,
  isExpectedShutdownError,
} from './expected-errors.js';

const withCode = (code: string) => Object.assign(new Error(`failed: ${code}`), { code });

/** An emitter handled by the helper, and the warnings it logged. */
function handled() {
  const emitter = new EventEmitter();
  const logged: { fields: object; message: string }[] = [];
  ignoreExpectedErrors(emitter, 'a test socket', {
    warn: (fields, message) => logged.push({ fields, message }),
  });
  return { emitter, logged };
}

describe('isExpectedShutdownError', () => {
  const table: [unknown, boolean][] = [
    [withCode('EPIPE'), true],
    [withCode('ECONNRESET'), true],
    [withCode('ECONNABORTED'), true],
    [withCode('ETIMEDOUT'), true],
    [withCode('ERR_STREAM_DESTROYED'), true],
    [withCode('ERR_STREAM_PREMATURE_CLOSE'), true],
    [withCode('EACCES'), false],
    [withCode('EADDRINUSE'), false],
    [withCode('ERR_STREAM_WRITE_AFTER_END'), false],
    [withCode('epipe'), false],
    [new Error('no code'), false],
    [Object.assign(new Error('numeric'), { code: 32 }), false],
    ['EPIPE', false],
    [null, false],
    [undefined, false],
  ];
  for (const [err, want] of table) {
    it(`${(err as { code?: unknown })?.code ?? String(err)} → ${want}`, () => {
      assert.equal(isExpectedShutdownError(err), want);
    });
  }

  it('documents why each code is expected', () => {
    for (const [code, why] of EXPECTED_SHUTDOWN_ERRORS) assert.ok(why.length > 20, code);
  });
});

describe('ignoreExpectedErrors', () => {
  it('drops every expected code without logging', () => {
    const { emitter, logged } = handled();
    for (const code of EXPECTED_SHUTDOWN_ERRORS.keys()) emitter.emit('error', withCode(code));
    assert.deepEqual(logged, []);
  });

  it('logs the first unexpected error once, naming the emitter and the code', () => {
    const { emitter, logged } = handled();
    emitter.emit('error', withCode('EPIPE'));
    emitter.emit('error', withCode('EACCES'));
    emitter.emit('error', withCode('EMFILE'));
    emitter.emit('error', new Error('later'));
    assert.equal(logged.length, 1);
    assert.equal(logged[0]!.message, 'unexpected error on a test socket: failed: EACCES');
    assert.deepEqual(logged[0]!.fields, { err: 'failed: EACCES', code: 'EACCES' });
  });

  it('logs once per emitter, not once overall', () => {
    const a = handled();
    const b = handled();
    a.emitter.emit('error', new Error('one'));
    b.emitter.emit('error', new Error('two'));
    assert.equal(a.logged.length, 1);
    assert.equal(b.logged.length, 1);
  });

  it('keeps the logged line on one line', () => {
    const { emitter, logged } = handled();
    emitter.emit('error', new Error('bad\nname\x1b[2J'));
    assert.equal(logged[0]!.message, 'unexpected error on a test socket: bad?name?[2J');
  });

  it('writes one stderr line when no logger is given', async () => {
    const { spawnSync } = await import('node:child_process');
    const helper = new URL('./expected-errors.js', import.meta.url).href;
    const script = `
      const { EventEmitter } = await import('node:events');
      const { ignoreExpectedErrors } = await import(${JSON.stringify(helper)});
      const e = new EventEmitter();
      ignoreExpectedErrors(e, 'a child pipe');
      e.emit('error', Object.assign(new Error('gone'), { code: 'EPIPE' }));
      e.emit('error', Object.assign(new Error('denied'), { code: 'EACCES' }));
      e.emit('error', new Error('again'));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, 'burrow: unexpected error on a child pipe: denied\n');
  });
});
