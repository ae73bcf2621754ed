import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type LocalHold, type Observed, type ReconcileAction, reconcile } from './reconcile.js';

const ME = 'relay-a#1';
const hold = (name: string, port: number, owner: string, conn: string, since = 0): LocalHold => ({
  name,
  port,
  owner,
  conn,
  since,
});
const seen = (name: string, owner: string, relayId: string): Observed => ({ name, owner, relayId });

describe('reconcile', () => {
  const cases: {
    title: string;
    local: LocalHold[];
    observed: Observed[];
    at?: number;
    expect: ReconcileAction[];
  }[] = [
    {
      title: 'a name this relay holds, as the registry says: nothing to do',
      local: [hold('dev1', 22, 'K', 'c1')],
      observed: [seen('dev1', 'K', ME)],
      expect: [],
    },
    {
      title: 'the same key now holds it on another relay: the stale connection is closed',
      local: [hold('dev1', 22, 'K', 'c1')],
      observed: [seen('dev1', 'K', 'relay-c#2')],
      expect: [{ kind: 'moved', conn: 'c1', name: 'dev1', owner: 'K', toRelay: 'relay-c#2' }],
    },
    {
      title: 'another key took it on another relay: dropped here',
      local: [hold('dev1', 22, 'K', 'c1')],
      observed: [seen('dev1', 'J', 'relay-b#3')],
      expect: [
        {
          kind: 'dropped',
          conn: 'c1',
          name: 'dev1',
          owner: 'K',
          heldBy: 'J',
          heldByRelay: 'relay-b#3',
        },
      ],
    },
    {
      title: 'a record naming this relay under another key disagrees with the table: dropped',
      local: [hold('dev1', 22, 'K', 'c1')],
      observed: [seen('dev1', 'J', ME)],
      expect: [
        { kind: 'dropped', conn: 'c1', name: 'dev1', owner: 'K', heldBy: 'J', heldByRelay: ME },
      ],
    },
    {
      title: 'several ports of one name on one connection: one action',
      local: [hold('dev1', 22, 'K', 'c1'), hold('dev1', 80, 'K', 'c1')],
      observed: [seen('dev1', 'K', 'relay-c#2')],
      expect: [{ kind: 'moved', conn: 'c1', name: 'dev1', owner: 'K', toRelay: 'relay-c#2' }],
    },
    {
      title: 'one name served by two connections (one port each): both are acted on',
      local: [hold('dev1', 22, 'K', 'c1'), hold('dev1', 80, 'K', 'c2')],
      observed: [seen('dev1', 'K', 'relay-c#2')],
      expect: [
        { kind: 'moved', conn: 'c1', name: 'dev1', owner: 'K', toRelay: 'relay-c#2' },
        { kind: 'moved', conn: 'c2', name: 'dev1', owner: 'K', toRelay: 'relay-c#2' },
      ],
    },
    {
      title: 'a registration made after the answer was read is newer than it: kept',
      local: [hold('dev1', 22, 'K', 'c1', 1000)],
      observed: [seen('dev1', 'K', 'relay-c#2')],
      at: 1000,
      expect: [],
    },
    {
      title: 'a registration made before the answer was read is acted on',
      local: [hold('dev1', 22, 'K', 'c1', 999)],
      observed: [seen('dev1', 'K', 'relay-c#2')],
      at: 1000,
      expect: [{ kind: 'moved', conn: 'c1', name: 'dev1', owner: 'K', toRelay: 'relay-c#2' }],
    },
    {
      title: 'only the names the registry reported are touched',
      local: [hold('dev1', 22, 'K', 'c1'), hold('dev2', 22, 'K', 'c2')],
      observed: [seen('dev2', 'J', 'relay-b#3')],
      expect: [
        {
          kind: 'dropped',
          conn: 'c2',
          name: 'dev2',
          owner: 'K',
          heldBy: 'J',
          heldByRelay: 'relay-b#3',
        },
      ],
    },
    {
      title: 'a name reported that this relay does not serve: nothing',
      local: [],
      observed: [seen('dev9', 'J', 'relay-b#3')],
      expect: [],
    },
  ];
  for (const c of cases) {
    it(c.title, () => {
      assert.deepEqual(reconcile(ME, c.local, c.observed, c.at ?? 1), c.expect);
    });
  }
});
