/**
 * Faults in a cluster of `burrow relay` processes on one real redis-server, with `burrow agent`
 * devices and real OpenSSH operators entering through another relay: kill -9 and SIGSTOP of the
 * holding relay, drain, a Redis outage while devices move, and seeded random relay kills.
 * Each relay's local table is read from its audit trail (see helpers/cluster.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Cluster, type ClusterNode, startCluster } from './helpers/cluster.js';
import { operatorLoop } from './helpers/cluster-check.js';
import { type Scope, waitFor, withScope } from './helpers/index.js';
import { prng, randInt } from './helpers/prng.js';

/** The relay of `among` the registry names as holder of `name`, once there is one. */
function holderOf(c: Cluster, name: string, among: ClusterNode[], timeoutMs = 10_000) {
  return waitFor(() => among.find((n) => n.alive && n.id === c.record(name).relayId), {
    what: `${name} to be held by one of ${among.map((n) => n.alias).join(', ')}`,
    timeoutMs,
  });
}

async function reaches(c: Cluster, via: ClusterNode, name: string): Promise<boolean> {
  const r = await c.op.run(['-J', via.alias, name, 'true'], { timeoutMs: 10_000 });
  return r.code === 0;
}

/**
 * Settled: every name has a record naming a live relay, that relay's local table serves it, and
 * no other live relay's table does. Returns a description of what disagrees, or '' when settled.
 */
function disagreement(c: Cluster, names: readonly string[]): string {
  const live = c.nodes.filter((n) => n.alive);
  const tables = new Map(live.map((n) => [n, n.table()]));
  const out: string[] = [];
  for (const name of names) {
    const rec = c.record(name);
    const holders = live.filter((n) => tables.get(n)?.has(name)).map((n) => n.alias);
    const named = live.find((n) => n.id === rec.relayId);
    if (!named) out.push(`${name}: registry says ${rec.relayId ?? 'nobody'}`);
    if (holders.length !== 1 || holders[0] !== named?.alias) {
      out.push(`${name}: registry ${named?.alias ?? rec.relayId}, tables [${holders.join(',')}]`);
    }
  }
  for (const [n, t] of tables) {
    for (const name of t.keys()) {
      if (!names.includes(name)) out.push(`${n.alias} serves unknown ${name}`);
    }
  }
  return out.join('; ');
}

async function settled(c: Cluster, names: readonly string[], what: string, timeoutMs = 15_000) {
  let last = '';
  try {
    await waitFor(
      () => {
        last = disagreement(c, names);
        return last === '';
      },
      { what, timeoutMs, intervalMs: 100 },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}: ${last}`);
  }
}

function resume(s: Scope, n: ClusterNode): void {
  s.defer(() => {
    if (n.alive) n.proc?.signal('SIGCONT');
  }, `SIGCONT ${n.alias}`);
}

describe('cluster: faults', () => {
  it('kill -9 of the holder: no operator attempt through B hangs, and dev1 follows the agent', async (t) =>
    withScope(t, async (s) => {
      const c = await startCluster(s, { relays: 3 });
      const [A, B, C] = c.nodes as [ClusterNode, ClusterNode, ClusterNode];
      c.startAgent('dev1', [A, C]);
      const holder = await holderOf(c, 'dev1', [A, C]);
      const next = holder === A ? C : A;
      const loop = operatorLoop(c, B, 'dev1', 2, 15_000);
      await waitFor(() => loop.okSince(0) >= 2, { what: 'operators through B to reach dev1' });

      const killedAt = Date.now();
      await holder.kill9();
      await holderOf(c, 'dev1', [next]);
      const movedMs = Date.now() - killedAt;
      await waitFor(() => loop.okSince(killedAt) >= 4, {
        what: 'operators through B to reach dev1 on its new relay',
        timeoutMs: 15_000,
      });
      const results = await loop.stop();
      t.diagnostic(`moved ${movedMs} ms after the kill; ${results.length} attempts`);
      for (const r of results) assert.ok(r.ms < 3000, `an attempt took ${r.ms} ms: ${r.err}`);
      for (const r of results.filter((r) => !r.ok)) {
        assert.ok(r.at > killedAt, `failed before the kill: ${r.err}`);
        // A session already running through the killed relay breaks as a TCP connection does;
        // one that starts after the kill is told why.
        if (r.at - r.ms < killedAt) continue;
        assert.match(r.err, /burrow: dev1(:22)? is (on relay \S+, which cannot be reached|not)/);
      }
      assert.equal(await reaches(c, B, 'dev1'), true, 'dev1 through B');
      assert.equal(await reaches(c, next, 'dev1'), true, `dev1 through ${next.alias}`);
      assert.equal(disagreement(c, ['dev1']), '');
    }));

  it('SIGSTOP of the holder: the agent moves, operators are told why meanwhile, SIGCONT leaves one holder', async (t) =>
    withScope(t, async (s) => {
      const c = await startCluster(s, { relays: 3 });
      const [A, B, C] = c.nodes as [ClusterNode, ClusterNode, ClusterNode];
      const agent = c.startAgent('dev1', [A, C]);
      const holder = await holderOf(c, 'dev1', [A, C]);
      const next = holder === A ? C : A;
      const loop = operatorLoop(c, B, 'dev1', 2, 15_000);
      await waitFor(() => loop.okSince(0) >= 2, { what: 'operators through B to reach dev1' });

      resume(s, holder);
      const stoppedAt = Date.now();
      holder.proc?.signal('SIGSTOP');
      await holderOf(c, 'dev1', [next], 15_000);
      const movedMs = Date.now() - stoppedAt;
      await waitFor(() => loop.okSince(stoppedAt + movedMs) >= 4, {
        what: 'operators through B to reach dev1 once it moved',
        timeoutMs: 15_000,
      });
      const results = await loop.stop();
      const failed = results.filter((r) => !r.ok);
      t.diagnostic(
        `moved ${movedMs} ms after SIGSTOP; ${results.length} attempts, ${failed.length} told why`,
      );
      // The agent's bound: keepalive 1 s × 2, then a connect to the next relay.
      assert.ok(movedMs < 6000, `the agent moved ${movedMs} ms after SIGSTOP`);
      assert.match(agent.output('stderr'), /keepalive/);
      for (const r of results) assert.ok(r.ms < 5000, `an attempt took ${r.ms} ms: ${r.err}`);
      for (const r of failed) {
        // A session that was already running through the stopped relay ends when the link to
        // it is found dead; one that starts after the stop is told why.
        if (r.at - r.ms < stoppedAt) continue;
        assert.match(
          r.err,
          new RegExp(`burrow: dev1:22 is on relay ${esc(holder.id)}, which cannot be reached`),
        );
      }

      holder.proc?.signal('SIGCONT');
      await waitFor(() => !holder.table().has('dev1'), {
        what: `${holder.alias} to drop its stale registration after SIGCONT`,
      });
      // Two more heartbeats of the resumed relay: still one holder.
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(disagreement(c, ['dev1']), '');
      assert.equal(c.record('dev1').relayId, next.id);
      assert.equal(await reaches(c, B, 'dev1'), true, 'dev1 through B');
      assert.equal(await reaches(c, holder, 'dev1'), true, `dev1 through ${holder.alias}`);
    }));

  it('SIGTERM of the holder: the agent moves first and operators through B keep reaching dev1', async (t) =>
    withScope(t, async (s) => {
      const c = await startCluster(s, { relays: 3 });
      const [A, B, C] = c.nodes as [ClusterNode, ClusterNode, ClusterNode];
      const agent = c.startAgent('dev1', [A, C]);
      const holder = await holderOf(c, 'dev1', [A, C]);
      const next = holder === A ? C : A;
      const loop = operatorLoop(c, B, 'dev1', 2, 15_000);
      await waitFor(() => loop.okSince(0) >= 2, { what: 'operators through B to reach dev1' });

      const termAt = Date.now();
      holder.proc?.signal('SIGTERM');
      const exit = await holder.proc?.stopped();
      assert.equal(exit?.code, 0);
      await holderOf(c, 'dev1', [next]);
      await waitFor(() => loop.okSince(termAt) >= 6, {
        what: 'operators through B after the drain',
        timeoutMs: 15_000,
      });
      const results = await loop.stop();
      const failed = results.filter((r) => !r.ok);
      t.diagnostic(`${results.length} attempts, ${failed.length} failed`);
      assert.deepEqual(failed, []);
      assert.match(agent.output('stderr'), /draining/);
      // The draining relay saw the name move (or the agent released it first, when the takeover
      // message came after the agent left) and left the device's connection to its agent.
      assert.ok(
        holder.audit('name.moved').some((e) => e.name === 'dev1' && e.to_relay === next.id) ||
          holder.audit('name.released').some((e) => e.name === 'dev1'),
        'the draining relay let dev1 go',
      );
      assert.deepEqual(
        holder.audit('conn.closed').filter((e) => e.reason === 'taken-over'),
        [],
        'the device connection is not cut under in-flight operators',
      );
      assert.equal(disagreement(c, ['dev1']), '');
    }));

  it('Redis down while devices move across relays: converges to one holder per name', async (t) =>
    withScope(t, async (s) => {
      const names = ['dev1', 'dev2', 'dev3'];
      const c = await startCluster(s, { relays: 3, names });
      const [A, B, C] = c.nodes as [ClusterNode, ClusterNode, ClusterNode];
      c.startAgent('dev1', [A, B]);
      c.startAgent('dev2', [B, C]);
      c.startAgent('dev3', [C, A]);
      await settled(c, names, 'every device registered');

      const downAt = Date.now();
      await c.redis.stop();
      for (const n of c.nodes) {
        await waitFor(() => n.audit('registry.lost').length > 0, {
          what: `${n.alias} to audit the outage`,
        });
      }
      // The relay holding dev1 dies; its devices reconnect elsewhere while Redis is down.
      const victim = c.nodes.find((n) => n.table().has('dev1')) as ClusterNode;
      const moved = [...victim.table().keys()];
      await victim.kill9();
      const live = c.nodes.filter((n) => n.alive);
      await waitFor(() => moved.every((name) => live.some((n) => n.table().has(name))), {
        what: `${moved.join(', ')} accepted on another relay during the outage`,
      });
      const left = 5000 - (Date.now() - downAt);
      if (left > 0) await new Promise((r) => setTimeout(r, left));
      await c.redis.restart();
      // A relay does not start without its registry: the victim comes back once Redis has.
      await victim.start();
      await settled(c, names, 'one holder per name once Redis is back');
      for (const n of live) {
        // A relay that holds no name can settle before its own link to Redis is back.
        await waitFor(() => n.audit('registry.restored').length > 0, {
          what: `${n.alias} to audit the registry's return`,
        });
        assert.equal(n.audit('registry.lost').length, 1, `${n.alias} audits the outage once`);
        assert.equal(n.audit('registry.restored').length, 1, `${n.alias} audits the return once`);
      }
      for (const name of names) {
        const via = live.find((n) => n.id !== c.record(name).relayId) as ClusterNode;
        assert.equal(await reaches(c, via, name), true, `${name} through ${via.alias}`);
      }
    }));

  it('random relay kill -9 and restart under a fleet of agents (seeded)', async (t) =>
    withScope(t, async (s) => {
      const seed = Number(process.env.BURROW_TEST_SEED ?? Date.now() % 1_000_000);
      const rounds = Number(process.env.BURROW_TEST_ROUNDS ?? 20);
      t.diagnostic(`seed ${seed} (BURROW_TEST_SEED=${seed} repeats it), ${rounds} rounds`);
      const rand = prng(seed);
      const names = ['dev1', 'dev2', 'dev3', 'dev4'];
      const c = await startCluster(s, { relays: 3, names });
      for (const name of names) c.startAgent(name);
      await settled(c, names, 'every device registered');

      for (let round = 1; round <= rounds; round++) {
        const live = c.nodes.filter((n) => n.alive);
        const dead = c.nodes.filter((n) => !n.alive);
        const restart = dead.length > 0 && (live.length === 1 || rand() < 0.5);
        const n = restart
          ? (dead[randInt(rand, dead.length)] as ClusterNode)
          : (live[randInt(rand, live.length)] as ClusterNode);
        const what = `round ${round} (seed ${seed}): ${restart ? 'restart' : 'kill -9'} ${n.alias}`;
        t.diagnostic(what);
        if (restart) await n.start();
        else await n.kill9();
        await settled(c, names, `${what}: one holder per name, registry and tables agree`);
        const name = names[randInt(rand, names.length)] as string;
        const via = c.nodes.filter((m) => m.alive)[0] as ClusterNode;
        await waitFor(() => reaches(c, via, name).then((ok) => ok || undefined), {
          what: `${what}: ${name} through ${via.alias}`,
          timeoutMs: 10_000,
        });
      }
    }));
});

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
