import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AUDITED_FAILURES, AuthFailures } from './auth-failures.js';

/** Runs `attempts` ([method, refused?]) through a counter; returns the verdicts of refusals. */
function run(maxTries: number, attempts: [string, boolean][]) {
  const f = new AuthFailures(maxTries);
  const verdicts = [];
  for (const [method, refused] of attempts) {
    f.attempt();
    if (refused) verdicts.push(f.refused(method, `r-${method}`));
  }
  return { f, verdicts };
}

describe('AuthFailures', () => {
  it('lets only a first none go uncounted, as sshd does', () => {
    const { verdicts } = run(2, [
      ['none', true],
      ['none', true],
      ['none', true],
    ]);
    assert.deepEqual(verdicts, [
      { audit: false, disconnect: false },
      { audit: true, disconnect: false },
      { audit: true, disconnect: true },
    ]);
  });

  const methods = ['password', 'keyboard-interactive', 'hostbased', 'publickey', 'none'];
  for (const method of methods) {
    it(`counts ${method} after another attempt`, () => {
      const { verdicts } = run(2, [
        ['publickey', false],
        [method, true],
        [method, true],
      ]);
      assert.deepEqual(
        verdicts.map((v) => v.disconnect),
        [false, true],
      );
    });
  }

  it('counts a first attempt that is not none', () => {
    const { verdicts } = run(1, [['password', true]]);
    assert.deepEqual(verdicts, [{ audit: true, disconnect: true }]);
  });

  it(`audits the first ${AUDITED_FAILURES} refusals and summarises the rest`, () => {
    const attempts: [string, boolean][] = Array.from({ length: 10 }, () => ['password', true]);
    const { f, verdicts } = run(100, attempts);
    assert.equal(verdicts.filter((v) => v.audit).length, AUDITED_FAILURES);
    assert.ok(verdicts.slice(0, AUDITED_FAILURES).every((v) => v.audit));
    assert.deepEqual(f.summary(), {
      refused: 10,
      unaudited: 10 - AUDITED_FAILURES,
      lastReason: 'r-password',
    });
  });

  it('has no summary when every refusal was audited', () => {
    const { f } = run(6, [
      ['none', true],
      ['publickey', true],
    ]);
    assert.equal(f.summary(), undefined);
  });
});
