/**
 * The 2-minute soak (`npm run soak -- --minutes 2`, bench/soak.ts): 1 000 churning devices and
 * operators echoing bytes through a three-relay cluster on one redis-server, relays other than
 * relay1 killed with SIGKILL every 20 s. It must pass its own criteria: relay1's memory flat
 * (last-half RSS peak within 1.25 × the first half's), its fds back to their count before the load,
 * no completed transfer with a different byte, transfers completed, relays killed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCommand, withScope } from './helpers/index.js';

const SOAK = new URL('../bench/soak.js', import.meta.url).pathname;

describe('soak', () => {
  it('2 minutes of churn, operators and relay kills: memory flat, no fd leaked, no byte lost', async (t) =>
    withScope(t, async (s) => {
      const r = await runCommand(
        s,
        process.execPath,
        [SOAK, ...['--minutes', '2', '--devices', '1000', '--kill-every', '20']],
        { timeoutMs: 240_000 },
      );
      const last = r.stdout.trim().split('\n').at(-1) ?? '';
      assert.ok(last.startsWith('{'), `the soak printed its result: ${r.stderr.slice(-3000)}`);
      const result = JSON.parse(last);
      t.diagnostic(
        JSON.stringify({ relay1: result.relay1, kills: result.kills, load: result.load }),
      );
      assert.deepEqual(
        result.checks,
        {
          fleetRegistered: true,
          flatMemory: true,
          noLeakedFds: true,
          noByteLost: true,
          transfersRan: true,
          relaysKilled: true,
        },
        r.stderr.slice(-3000),
      );
      assert.equal(r.code, 0);
      assert.ok(result.kills >= 3, `${result.kills} relay kills`);
      assert.ok(result.load.registrations >= 1000, `${result.load.registrations} registrations`);
    }));
});
