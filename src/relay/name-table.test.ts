import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NameTable, type Registration } from './name-table.js';

type Reg = Registration<string, string>;
const reg = (name: string, port: number, owner: string, conn: string): Reg => ({
  route: { name, port },
  owner,
  conn,
  target: `${conn}-target`,
  since: 0,
});

describe('NameTable', () => {
  const cases: {
    title: string;
    steps: { op: 'register' | 'release'; r: Reg; expect: unknown }[];
    finally: { name: string; port: number; conn?: string }[];
  }[] = [
    {
      title: 'a free name registers',
      steps: [{ op: 'register', r: reg('dev1', 22, 'A', 'c1'), expect: { ok: true } }],
      finally: [{ name: 'dev1', port: 22, conn: 'c1' }],
    },
    {
      title: 'another key cannot take a held name, on any port',
      steps: [
        { op: 'register', r: reg('dev1', 22, 'A', 'c1'), expect: { ok: true } },
        { op: 'register', r: reg('dev1', 22, 'B', 'c2'), expect: { ok: false, heldBy: 'A' } },
        { op: 'register', r: reg('dev1', 80, 'B', 'c2'), expect: { ok: false, heldBy: 'A' } },
      ],
      finally: [
        { name: 'dev1', port: 22, conn: 'c1' },
        { name: 'dev1', port: 80 },
      ],
    },
    {
      title: 'the same key on a new connection takes over and reports the stale one',
      steps: [
        { op: 'register', r: reg('dev1', 22, 'A', 'c1'), expect: { ok: true } },
        {
          op: 'register',
          r: reg('dev1', 22, 'A', 'c2'),
          expect: { ok: true, replaced: reg('dev1', 22, 'A', 'c1') },
        },
      ],
      finally: [{ name: 'dev1', port: 22, conn: 'c2' }],
    },
    {
      title: 'a stale connection releasing after takeover does not remove the new route',
      steps: [
        { op: 'register', r: reg('dev1', 22, 'A', 'c1'), expect: { ok: true } },
        { op: 'register', r: reg('dev1', 22, 'A', 'c2'), expect: 'any' },
        { op: 'release', r: reg('dev1', 22, 'A', 'c1'), expect: undefined },
      ],
      finally: [{ name: 'dev1', port: 22, conn: 'c2' }],
    },
    {
      title: 're-registering on the same connection is idempotent',
      steps: [
        { op: 'register', r: reg('dev1', 22, 'A', 'c1'), expect: { ok: true } },
        { op: 'register', r: reg('dev1', 22, 'A', 'c1'), expect: { ok: true } },
        { op: 'release', r: reg('dev1', 22, 'A', 'c1'), expect: 'any' },
      ],
      finally: [{ name: 'dev1', port: 22 }],
    },
    {
      title: 'a name is free again once its last route is released',
      steps: [
        { op: 'register', r: reg('dev1', 22, 'A', 'c1'), expect: { ok: true } },
        { op: 'register', r: reg('dev1', 80, 'A', 'c1'), expect: { ok: true } },
        { op: 'release', r: reg('dev1', 22, 'A', 'c1'), expect: 'any' },
        { op: 'register', r: reg('dev1', 22, 'B', 'c2'), expect: { ok: false, heldBy: 'A' } },
        { op: 'release', r: reg('dev1', 80, 'A', 'c1'), expect: 'any' },
        { op: 'register', r: reg('dev1', 22, 'B', 'c2'), expect: { ok: true } },
      ],
      finally: [
        { name: 'dev1', port: 22, conn: 'c2' },
        { name: 'dev1', port: 80 },
      ],
    },
  ];

  for (const c of cases) {
    it(c.title, () => {
      const table = new NameTable<string, string>();
      for (const step of c.steps) {
        const got =
          step.op === 'register'
            ? table.register(step.r)
            : table.release(step.r.route, step.r.conn);
        if (step.expect !== 'any') assert.deepEqual(got, step.expect);
      }
      for (const f of c.finally) {
        assert.equal(table.lookup({ name: f.name, port: f.port })?.conn, f.conn);
      }
    });
  }
});
