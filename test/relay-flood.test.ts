/**
 * A pre-auth flood from many addresses cannot lock out a user whose address never misbehaved:
 * stalled connections from 127.0.1.x fill the unauthenticated-connection table, are penalised
 * as they stall, and a real `ssh -J` from 127.0.0.1 keeps getting through. The refusals are
 * audited as summaries, not one line each.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMaxStartups, parsePenalties } from '../src/cli/startup-flags.js';
import { loopbackSources, startFlood } from './helpers/flood.js';
import { waitFor, withScope } from './helpers/index.js';
import { forwardTo, startWorld } from './helpers/relay.js';

describe('relay under a pre-auth flood', () => {
  it('lets a legitimate ssh -J through a flood of stalled connections from 20 addresses', async (t) =>
    withScope(t, async (s) => {
      const penalties = parsePenalties('--per-source-penalties', undefined);
      assert.ok(penalties);
      // As `--max-startups 20:30:40 --max-startups-per-source 8 --login-grace-time 2s` with the
      // default --per-source-penalties.
      const world = await startWorld(s, {
        policy: (dev, op) => [`permitlisten="dev1:22" ${dev}`, `permitopen="dev1:22" ${op}`],
        config: {
          maxStartups: parseMaxStartups('--max-startups', '20:30:40'),
          maxStartupsPerSource: 8,
          loginGraceMs: 2000,
          penalties,
          refusalAuditIntervalMs: 1000,
        },
      });
      await world.register([forwardTo('dev1', 22, world.sshd)]);
      assert.equal((await world.op.run(['dev1', 'true'])).code, 0, 'quiet: ssh -J works');

      // 20 sources at 8 each want 160 slots of 40. (Fewer sources than slots, so at full some
      // source holds two or more and the legitimate one's handshake takes the place of one.)
      const sources = loopbackSources(20);
      const flood = startFlood({
        host: '127.0.0.1',
        port: world.relay.port,
        sources,
        perSource: 8,
        durationMs: 12_000,
        reopenDelayMs: 20,
      });
      s.defer(async () => void (await flood.stop()), 'flood');
      await waitFor(() => world.relay.relay.stats().unauthenticated >= 40 || undefined, {
        what: 'the flood to fill the table',
      });

      const results: number[] = [];
      const failures: string[] = [];
      for (let i = 0; i < 10; i++) {
        const r = await world.op.run(['dev1', 'true'], { timeoutMs: 10_000 });
        results.push(r.code ?? -1);
        if (r.code !== 0) failures.push(r.stderr.slice(-300));
        await new Promise((r) => setTimeout(r, 300));
      }
      const counts = await flood.stop();
      const ok = results.filter((c) => c === 0).length;
      assert.ok(
        ok >= 9,
        `ssh -J succeeded ${ok}/10 under the flood (exit codes ${results}): ${failures.join(' | ')}`,
      );
      assert.ok(counts.attempts > 400, `the flood kept reopening: ${JSON.stringify(counts)}`);

      // The audit: the flood's refusals are counted in summaries, each source named at most once
      // per interval, and 127.0.0.1 was never refused.
      await world.relay.relay.close();
      const audit = world.relay.audit;
      const summaries = audit.all('conn.refused.summary');
      const summed = summaries.reduce((n, e) => n + e.refused, 0);
      const lines = audit.all('conn.refused');
      assert.ok(summaries.length > 0, 'summary lines written');
      assert.ok(summed > 200, `refusals counted: ${summed}`);
      assert.ok(lines.length < summed / 4, `${lines.length} lines for ${summed} refusals`);
      assert.ok(
        summaries.some((e) => (e.by_reason.penalised ?? 0) > 0),
        'stallers penalised',
      );
      assert.ok(summaries.every((e) => e.sources <= sources.length));
      assert.ok(
        !lines.some((e) => e.ip === '127.0.0.1'),
        'the legitimate source was never refused',
      );
    }));
});
