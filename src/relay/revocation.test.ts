import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blobFor, keyLine } from '../../test/fixtures/testkeys.js';
import { PolicySet } from '../core/policy-set.js';
import { type Holding, judge, type RevocationAction } from './revocation.js';

const DEV = blobFor('ssh-ed25519', 'dev');
const OP = blobFor('ssh-ed25519', 'op');
const NOW = Date.parse('2030-06-01T12:00:00Z');
const EXPIRY = Date.parse('2030-06-01T12:00:05Z');

const r = (name: string, port = 22) => ({ name, port });
const dev = (names = [r('dev1')], ip = '127.0.0.1'): Holding => ({
  conn: 'c1',
  keyBlob: DEV,
  ip,
  names,
  reaching: [],
});
const op = (reaching = [r('dev1')]): Holding => ({
  conn: 'c2',
  keyBlob: OP,
  ip: '127.0.0.1',
  names: [],
  reaching,
});

describe('judge', () => {
  const cases: {
    title: string;
    policy: string[];
    held: Holding[];
    now?: number;
    actions: RevocationAction[];
    wakeAt?: number;
  }[] = [
    {
      title: 'everything still permitted: no action',
      policy: [keyLine('permitlisten="dev1:22"', 'dev'), keyLine('permitopen="*:22"', 'op')],
      held: [dev(), op()],
      actions: [],
    },
    {
      title: 'a key removed from the file is closed as revoked',
      policy: [keyLine('permitopen="*:22"', 'op')],
      held: [dev(), op()],
      actions: [{ kind: 'close', conn: 'c1', reason: 'key-revoked' }],
    },
    {
      title: 'an empty policy closes every connection',
      policy: [],
      held: [dev(), op()],
      actions: [
        { kind: 'close', conn: 'c1', reason: 'key-revoked' },
        { kind: 'close', conn: 'c2', reason: 'key-revoked' },
      ],
    },
    {
      title: 'a key past its expiry-time is closed as expired',
      policy: [keyLine('expiry-time="20300601120005Z",permitlisten="dev1:22"', 'dev')],
      held: [dev()],
      now: EXPIRY + 1000,
      actions: [{ kind: 'close', conn: 'c1', reason: 'key-expired' }],
    },
    {
      title: 'within the expiry second the key still holds, and the wake-up is set',
      policy: [keyLine('expiry-time="20300601120005Z",permitlisten="dev1:22"', 'dev')],
      held: [dev()],
      now: EXPIRY + 999,
      actions: [],
      wakeAt: EXPIRY + 1000,
    },
    {
      title: 'the soonest expiry among connections wins',
      policy: [
        keyLine('expiry-time="20300601120005Z",permitlisten="dev1:22"', 'dev'),
        keyLine('expiry-time="20300601120003Z",permitopen="*:22"', 'op'),
      ],
      held: [dev(), op()],
      actions: [],
      wakeAt: Date.parse('2030-06-01T12:00:04Z'),
    },
    {
      title: 'an expired line falls through to a later line for the same key',
      policy: [
        keyLine('expiry-time="20300601115959Z",permitlisten="dev1:22"', 'dev'),
        keyLine('permitlisten="dev2:22"', 'dev'),
      ],
      held: [dev([r('dev1'), r('dev2')])],
      actions: [{ kind: 'release', conn: 'c1', route: r('dev1') }],
    },
    {
      title: 'from= no longer matching the source closes the connection',
      policy: [keyLine('from="10.0.0.0/8",permitlisten="dev1:22"', 'dev')],
      held: [dev()],
      actions: [{ kind: 'close', conn: 'c1', reason: 'key-from-mismatch' }],
    },
    {
      title: 'a name no longer in permitlisten is released; the others stay',
      policy: [keyLine('permitlisten="dev2:22",permitlisten="dev3:*"', 'dev')],
      held: [dev([r('dev1'), r('dev2'), r('dev3', 80)])],
      actions: [{ kind: 'release', conn: 'c1', route: r('dev1') }],
    },
    {
      title: 'no-port-forwarding releases every name but keeps the connection',
      policy: [keyLine('no-port-forwarding,permitlisten="dev1:22"', 'dev')],
      held: [dev([r('dev1'), r('dev1', 80)])],
      actions: [
        { kind: 'release', conn: 'c1', route: r('dev1') },
        { kind: 'release', conn: 'c1', route: r('dev1', 80) },
      ],
    },
    {
      title: 'a bridge to a route no longer in permitopen is cut, once per route',
      policy: [keyLine('permitopen="dev2:22"', 'op')],
      held: [op([r('dev1'), r('dev2'), r('dev1')])],
      actions: [{ kind: 'cut', conn: 'c2', route: r('dev1') }],
    },
  ];
  for (const c of cases) {
    it(c.title, () => {
      const { set } = PolicySet.parse(c.policy.join('\n'), 'keys');
      const got = judge(set, c.now ?? NOW, c.held);
      assert.deepEqual(got.actions, c.actions);
      assert.equal(got.wakeAt, c.wakeAt);
    });
  }
});
