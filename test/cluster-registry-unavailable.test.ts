/**
 * An entry relay that cannot ask the registry, seen by real OpenSSH: Redis is stopped with
 * SIGSTOP (it accepts nothing and answers nothing, as a master failing over does), and an
 * operator asks relay B for names B does not hold. Each ssh is told the reason within the lookup
 * budget + 1 s, a name connected to B itself is not slowed, and B audits the burst of refusals
 * once while its metric counts every one.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LOOKUP_BUDGET_MS } from '../src/cluster/router.js';
import { FAST_CLUSTER, startCluster } from './helpers/cluster.js';
import { settled } from './helpers/cluster-check.js';
import { waitFor, withScope } from './helpers/index.js';
import { metricsUrlOf, scrape } from './helpers/metrics.js';

const REFUSED = (to: string) =>
  `channel 0: open failed: connect failed: burrow: registry unavailable, so where ${to} is ` +
  'connected is not known; try again';

describe('cluster: the registry unavailable', () => {
  it('a relay that cannot ask the registry refuses at once with the reason; its own names are not slowed', async (t) =>
    withScope(t, async (s) => {
      const names = ['dev1', 'dev2', 'dev3'];
      const c = await startCluster(s, {
        relays: 2,
        names,
        relayFlags: [...FAST_CLUSTER, '--metrics-listen', '127.0.0.1:0'],
      });
      const [A, B] = c.nodes as [(typeof c.nodes)[0], (typeof c.nodes)[0]];
      const metrics = await metricsUrlOf(B.proc as NonNullable<typeof B.proc>);
      c.startAgent('dev1', [A]);
      c.startAgent('dev2', [B]);
      await settled(c, ['dev1', 'dev2'], 'dev1 on A and dev2 on B');
      const viaB = (name: string) => c.op.run(['-J', B.alias, name, 'true'], { timeoutMs: 15_000 });
      assert.equal((await viaB('dev1')).code, 0, 'dev1 through B before the outage');

      s.defer(() => c.redis.proc().signal('SIGCONT'), 'SIGCONT redis');
      c.redis.proc().signal('SIGSTOP');
      const boundMs = LOOKUP_BUDGET_MS + 1000;
      let refusals = 0;

      // dev3 is registered nowhere: B knows nothing of it and the registry does not answer.
      const w = await c.op.run(['-W', 'dev3:22', B.alias], { input: '', timeoutMs: 15_000 });
      assert.equal(w.code, 255, w.stderr);
      assert.ok(w.stderr.includes(REFUSED('dev3:22')), w.stderr);
      assert.ok(w.durationMs < boundMs, `told after ${w.durationMs} ms`);
      refusals += 1;

      // dev2 is connected to B itself: served from B's table, whatever the registry does.
      const local = await viaB('dev2');
      assert.equal(local.code, 0, local.stderr);
      t.diagnostic(`dev2 (on B) reached in ${local.durationMs} ms with Redis stopped`);

      // dev1 is on A: B uses what it last learned for up to a TTL (3 s), then says why.
      const attempts: { ok: boolean; ms: number; err: string }[] = [];
      await waitFor(
        async () => {
          const r = await viaB('dev1');
          attempts.push({ ok: r.code === 0, ms: r.durationMs, err: r.stderr.trim() });
          return r.code !== 0;
        },
        { what: 'B to stop routing dev1 by what it knew', timeoutMs: 20_000 },
      );
      t.diagnostic(JSON.stringify(attempts.map((a) => [a.ok, a.ms])));
      for (const a of attempts) {
        // ssh -J: two handshakes, then the open that waits at most the budget.
        assert.ok(a.ms < boundMs + 1000, `an attempt took ${a.ms} ms: ${a.err}`);
        if (!a.ok) assert.ok(a.err.includes(REFUSED('dev1:22')), a.err);
      }
      refusals += 1;

      // Asked again and again: each told within the bound (at once while a failed lookup is
      // less than a second old), and all of it one burst.
      for (let i = 0; i < 3; i++) {
        const again = await c.op.run(['-W', 'dev3:22', B.alias], { input: '', timeoutMs: 15_000 });
        assert.ok(again.stderr.includes(REFUSED('dev3:22')), again.stderr);
        assert.ok(again.durationMs < boundMs, `told after ${again.durationMs} ms`);
        refusals += 1;
      }

      const audited = B.audit('connect.refused').filter((e) => e.reason === 'registry-unavailable');
      assert.equal(audited.length, 1, 'one audit line for the burst');
      const m = await scrape(metrics);
      assert.equal(
        m.value('burrow_relay_refusals_total', { kind: 'connect', reason: 'registry-unavailable' }),
        refusals,
      );
    }));
});
