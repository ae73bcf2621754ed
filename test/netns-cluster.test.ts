/**
 * Cluster faults on a real network: the link from an entry relay to the relay holding a name is
 * partitioned one way, and Redis sits behind a 500 ms round trip, each through a veth link between
 * two network namespaces (helpers/netns.ts). Relays, agents and operators are real processes; the
 * checks: exactly one holder per name at every step, operators told the reason at once, nothing
 * hangs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ClusterNode, startCluster } from './helpers/cluster.js';
import { operatorLoop, settled, tableHolders } from './helpers/cluster-check.js';
import { waitFor, withScope } from './helpers/index.js';
import { type Direction, netnsUnavailable, startLink } from './helpers/netns.js';

const why = netnsUnavailable();

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('cluster: the relay-to-relay link partitioned one way', { skip: why }, () => {
  const cases: [Direction, string][] = [
    ['a->b', 'the entry relay is not heard by the holder'],
    ['b->a', 'the holder is not heard by the entry relay'],
  ];
  for (const [dir, what] of cases) {
    it(`${what}: operators are told why at once, one holder throughout, back after healing`, async (t) =>
      withScope(t, async (s) => {
        const c = await startCluster(s, { relays: 2 });
        const [A, B] = c.nodes as [ClusterNode, ClusterNode];
        // B advertises the link's port: A's peer link to B crosses the veth (a: A, b: B).
        const link = await startLink(s, B.port, { name: 'A to B' });
        B.advertise = link.addr;
        await B.kill9();
        await B.start();
        c.startAgent('dev1', [B]);
        await waitFor(() => c.record('dev1').relayId === B.id || undefined, {
          what: 'dev1 held by B',
        });
        const loop = operatorLoop(c, A, 'dev1');
        await waitFor(() => loop.okSince(0) >= 2, { what: 'operators through A to reach dev1' });

        const cutAt = Date.now();
        link.oneWay(dir);
        // Partitioned for 8 s: dev1 stays on B alone, and operators through A are told why.
        let doubles = 0;
        while (Date.now() - cutAt < 8000) {
          if (tableHolders(c, 'dev1') > 1 || c.record('dev1').relayId !== B.id) doubles++;
          await new Promise((r) => setTimeout(r, 100));
        }
        const healAt = Date.now();
        link.heal();
        await waitFor(() => loop.okSince(healAt) >= 2, {
          what: 'operators through A to reach dev1 after healing',
          timeoutMs: 20_000,
        });
        const results = await loop.stop();
        const told = results.filter((r) => !r.ok && r.at - r.ms > cutAt && r.at < healAt);
        t.diagnostic(
          `${results.length} attempts, ${told.length} refused while partitioned; ` +
            `slowest ${Math.max(...results.map((r) => r.ms))} ms`,
        );
        assert.equal(doubles, 0, 'one holder of dev1 at every sample');
        assert.ok(told.length >= 1, 'the partition was felt by operators through A');
        for (const r of told) {
          assert.match(
            r.err,
            new RegExp(`burrow: dev1:22 is on relay ${esc(B.id)}, which cannot be reached`),
          );
        }
        // Keepalive 1 s × 2 finds a silent link; a dial is bounded at 2 s: nothing waits long.
        for (const r of results) assert.ok(r.ms < 8000, `an attempt took ${r.ms} ms: ${r.err}`);
        await settled(c, ['dev1'], 'one holder after healing');
      }));
  }
});

describe('cluster: Redis behind a 500 ms round trip', { skip: why }, () => {
  it('names register, move on kill -9 and stay single-held; operators reach them', async (t) =>
    withScope(t, async (s) => {
      const names = ['dev1', 'dev2', 'dev3'];
      const c = await startCluster(s, { relays: 3, names });
      // 250 ms each way between every relay and Redis.
      const link = await startLink(s, c.redis.port, { delayMs: 250, name: 'to redis' });
      for (const n of c.nodes) {
        n.registry = `redis://${link.addr}`;
        await n.kill9();
        await n.start();
      }
      const [A, B, C] = c.nodes as [ClusterNode, ClusterNode, ClusterNode];
      c.startAgent('dev1', [A, B]);
      c.startAgent('dev2', [B, C]);
      c.startAgent('dev3', [C, A]);
      await settled(c, names, 'every device registered through the slow Redis', 30_000);
      const holder = c.nodes.find((n) => n.table().has('dev1')) as ClusterNode;
      const via = c.nodes.find((n) => n !== holder) as ClusterNode;
      const r = await c.op.run(['-J', via.alias, 'dev1', 'true'], { timeoutMs: 20_000 });
      assert.equal(r.code, 0, r.stderr);

      // Heartbeats are slow now: watch for a double holder across several TTLs and a kill -9.
      let doubles = 0;
      const watch = setInterval(() => {
        for (const name of names) if (tableHolders(c, name) > 1) doubles++;
      }, 100);
      s.defer(() => clearInterval(watch), 'stop watching');
      await holder.kill9();
      await settled(c, names, 'one holder per name after the kill, through the slow Redis', 30_000);
      await new Promise((r) => setTimeout(r, 4000));
      clearInterval(watch);
      assert.equal(doubles, 0, 'never two local holders of a name');
      assert.equal(
        c.nodes.filter((n) => n.alive).reduce((k, n) => k + n.audit('registry.lost').length, 0),
        0,
        'a slow Redis is not a lost Redis',
      );
      for (const name of names) {
        const at = c.nodes.find((n) => n.alive && n.id !== c.record(name).relayId) as ClusterNode;
        const ok = await c.op.run(['-J', at.alias, name, 'true'], { timeoutMs: 20_000 });
        assert.equal(ok.code, 0, `${name} through ${at.alias}: ${ok.stderr}`);
      }
    }));
});
