/**
 * Someone who can write to Redis may misroute or deny, never grant. The registry only says where
 * a name lives; the entry relay dials that address and goes on only if the answering host key is
 * in its peers file, policy is checked on the entry relay before any lookup, and the holder serves
 * only its own local table. Each test forges registry records with redis-cli, as such an attacker
 * would, and shows a real operator (`ssh -J relay1 NAME`) refused with the reason.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  REGISTRY_NAME_KEY,
  REGISTRY_RELAY_KEY,
  REGISTRY_RELAYS_INDEX,
} from '../src/core/constants.js';
import { type Cluster, type ClusterNode, startCluster } from './helpers/cluster.js';
import { startSshd, waitFor, withScope } from './helpers/index.js';
import type { RedisServer } from './helpers/redis.js';

/** Writes a name record and (unless `relayAddress` is undefined) a relay record, as burrow would. */
function forge(
  redis: RedisServer,
  name: string,
  relayId: string,
  relayAddress: string | undefined,
): void {
  const now = String(Date.now());
  redis.cli('HSET', REGISTRY_NAME_KEY + name, 'owner', 'SHA256:forged', 'relayId', relayId);
  redis.cli('HSET', REGISTRY_NAME_KEY + name, 'ports', '22', 'since', now);
  redis.cli('PEXPIRE', REGISTRY_NAME_KEY + name, '600000');
  if (relayAddress === undefined) return;
  const key = REGISTRY_RELAY_KEY + relayId;
  redis.cli('HSET', key, 'relayId', relayId, 'address', relayAddress, 'names', '1');
  redis.cli('HSET', key, 'connections', '1', 'capacity', '1000', 'draining', '0');
  redis.cli('HSET', key, 'version', '0.1.0', 'startedAt', now);
  redis.cli('PEXPIRE', key, '600000');
  redis.cli('ZADD', REGISTRY_RELAYS_INDEX, now, relayId);
}

function attempt(c: Cluster, via: ClusterNode) {
  return c.op.run(['-J', via.alias, 'dev2', 'true'], { timeoutMs: 15_000 });
}

describe('cluster: a writer of Redis may misroute or deny, never grant', () => {
  it('a name record pointing at a relay whose host key is not in the peers file is refused', async (t) =>
    withScope(t, async (s) => {
      const c = await startCluster(s, { relays: 2, names: ['dev1', 'dev2'] });
      const [A] = c.nodes as [ClusterNode, ClusterNode];
      // The attacker's "relay": a real SSH server that would accept anyone, at an address the
      // forged record advertises.
      const evil = await startSshd(s, { name: 'attacker sshd' });
      forge(c.redis, 'dev2', 'evil-relay', `127.0.0.1:${evil.port}`);

      const r = await attempt(c, A);
      assert.notEqual(r.code, 0);
      assert.match(
        r.stderr,
        /burrow: dev2:22 is on relay evil-relay, whose host key is not in this relay's peers file/,
      );
      // The entry relay stopped at the host key: it never authenticated to the attacker.
      await waitFor(() => /Connection (from|closed)|kex|banner/i.test(evil.log()) || undefined, {
        what: 'the attacker sshd to see the dial',
      });
      assert.doesNotMatch(evil.log(), /Accepted|Postponed|publickey/);
    }));

  it('a record naming a real peer that does not hold the name: that peer refuses from its own table', async (t) =>
    withScope(t, async (s) => {
      const c = await startCluster(s, { relays: 2, names: ['dev1', 'dev2'] });
      const [A, B] = c.nodes as [ClusterNode, ClusterNode];
      forge(c.redis, 'dev2', B.id, undefined); // B's own relay record is genuine
      const r = await attempt(c, A);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /burrow: dev2(:22)? is not connected/);
    }));

  it('a record for a name the operator may not open changes nothing: policy comes first', async (t) =>
    withScope(t, async (s) => {
      const c = await startCluster(s, { relays: 2, names: ['dev1'] });
      const [A, B] = c.nodes as [ClusterNode, ClusterNode];
      c.startAgent('dev1', [B]);
      await waitFor(() => c.record('dev1').relayId === B.id || undefined, { what: 'dev1 on B' });
      // dev2 is not in the operator's permitopen; point it at B, where dev1's device really is.
      forge(c.redis, 'dev2', B.id, undefined);
      const r = await attempt(c, A);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /burrow: .*dev2/);
      assert.doesNotMatch(r.stderr, /is on relay/, 'refused by policy before any lookup');
      const refused = await waitFor(
        () => A.audit('connect.refused').find((e) => e.to.startsWith('dev2')),
        { what: 'the entry relay to audit the refusal' },
      );
      assert.equal(refused.via_relay, undefined, `refused on the entry relay: ${refused.reason}`);
      const atHolder = [...B.audit('connect.refused'), ...B.audit('connect.closed')];
      assert.deepEqual(
        atHolder.filter((e) => e.to.startsWith('dev2')),
        [],
        'the holder never saw a channel for the forged name',
      );
    }));
});
