import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditEvent } from './audit.js';
import { capEvent, capField, LimitedAudit, MAX_FIELD, RefusalBudget } from './limits.js';

describe('capField', () => {
  const cases: [title: string, input: string, max: number, expected: string][] = [
    ['short text is kept', 'dev1:22', 16, 'dev1:22'],
    ['exactly max is kept', 'abcd', 4, 'abcd'],
    ['longer is cut with the count of what was cut', 'abcdefgh', 4, 'abcd…(+4)'],
    ['control characters become ?', 'a\nb\rc\u0000d\u001b[31m', 64, 'a?b?c?d?[31m'],
    ['DEL and C1 become ?', 'a\u007fb\u0085c', 64, 'a?b?c'],
    ['line separators and bidi overrides become ?', 'a\u2028b\u202ec\u2066d', 64, 'a?b?c?d'],
    ['printable unicode is kept', 'café ✓', 64, 'café ✓'],
    ['cut happens before replacing', `${'\n'.repeat(6)}`, 4, '????…(+2)'],
  ];
  for (const [title, input, max, expected] of cases) {
    it(title, () => assert.equal(capField(input, max), expected));
  }

  it('caps every string field of an event and leaves numbers alone', () => {
    const e = capEvent({
      event: 'connect.refused',
      conn: 'c1',
      fp: 'SHA256:x',
      to: 'x'.repeat(30_000),
      via: 'direct-tcpip',
      reason: 'not-permitted',
    });
    assert.equal(e.to, `${'x'.repeat(MAX_FIELD)}…(+${30_000 - MAX_FIELD})`);
    assert.equal(e.conn, 'c1');
    const n = capEvent({ event: 'conn.closed', conn: 'c1', ip: '::1', reason: 'x', ms: 12 });
    assert.equal(n.ms, 12);
  });
});

describe('RefusalBudget', () => {
  type Step = [conn: string, kind: string, at: number, write: boolean, summaries?: string[]];
  const cases: { title: string; budget: number; windowMs: number; steps: Step[] }[] = [
    {
      title: 'within the budget every refusal is written',
      budget: 2,
      windowMs: 1000,
      steps: [
        ['c1', 'a', 0, true],
        ['c1', 'a', 10, true],
      ],
    },
    {
      title: 'over the budget refusals are counted, then summarised when the window ends',
      budget: 2,
      windowMs: 1000,
      steps: [
        ['c1', 'a', 0, true],
        ['c1', 'b', 1, true],
        ['c1', 'a', 2, false],
        ['c1', 'b', 3, false],
        ['c1', 'a', 999, false],
        ['c1', 'a', 1000, true, ['c1 a 2', 'c1 b 1']],
        ['c1', 'a', 1001, true],
        ['c1', 'a', 1002, false],
      ],
    },
    {
      title: 'a window with nothing suppressed ends without a summary',
      budget: 1,
      windowMs: 1000,
      steps: [
        ['c1', 'a', 0, true],
        ['c1', 'a', 5000, true, []],
      ],
    },
    {
      title: 'each connection has its own budget',
      budget: 1,
      windowMs: 1000,
      steps: [
        ['c1', 'a', 0, true],
        ['c1', 'a', 1, false],
        ['c2', 'a', 2, true],
        ['c2', 'a', 3, false],
      ],
    },
  ];
  for (const c of cases) {
    it(c.title, () => {
      const b = new RefusalBudget(c.budget, c.windowMs);
      for (const [conn, kind, at, write, summaries = []] of c.steps) {
        const got = b.admit(conn, kind, at);
        assert.equal(got.write, write, `${conn} ${kind} at ${at}`);
        assert.deepEqual(
          got.summaries.map((s) => `${s.conn} ${s.kind} ${s.count}`),
          summaries,
          `summaries at ${at}`,
        );
      }
    });
  }

  it('close reports what was suppressed and forgets the connection', () => {
    const b = new RefusalBudget(1, 1000);
    b.admit('c1', 'a', 0);
    b.admit('c1', 'a', 1);
    b.admit('c1', 'a', 2);
    assert.equal(b.size, 1);
    assert.deepEqual(b.close('c1'), [{ conn: 'c1', kind: 'a', count: 2 }]);
    assert.equal(b.size, 0);
    assert.deepEqual(b.close('c1'), []);
  });
});

describe('LimitedAudit', () => {
  it('writes refusals within budget, a summary before conn.closed, and never other events late', () => {
    const out: AuditEvent[] = [];
    let now = 0;
    const audit = new LimitedAudit(
      { record: (e) => out.push(e) },
      () => now,
      new RefusalBudget(2, 1000),
    );
    const refusal = (i: number): AuditEvent => ({
      event: 'connect.refused',
      conn: 'c1',
      fp: 'f',
      to: `n${i}:22\n${'y'.repeat(1000)}`,
      via: 'direct-tcpip',
      reason: 'not-permitted',
    });
    for (let i = 0; i < 5; i++) {
      now = i;
      audit.record(refusal(i));
    }
    audit.record({ event: 'name.registered', conn: 'c1', fp: 'f', name: 'a', port: 1, form: 'x' });
    audit.record({ event: 'conn.closed', conn: 'c1', ip: '::1', reason: 'peer-closed', ms: 5 });
    assert.deepEqual(
      out.map((e) => e.event),
      ['connect.refused', 'connect.refused', 'name.registered', 'audit.suppressed', 'conn.closed'],
    );
    assert.deepEqual(out[3], {
      event: 'audit.suppressed',
      conn: 'c1',
      kind: 'connect.refused',
      count: 3,
    });
    const first = out[0] as { to: string };
    assert.ok(first.to.startsWith('n0:22?yyy'), first.to);
    assert.ok(first.to.endsWith(`…(+${1006 - MAX_FIELD})`), first.to);
  });
});
