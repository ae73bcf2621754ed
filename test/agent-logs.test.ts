/**
 * What `burrow agent` tells the person watching it: readable lines with `--log-format text`, the
 * fingerprint it records with --accept-new, and a truthful account of its only relay draining.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startFleet } from './helpers/fleet.js';
import { runCommand, withScope } from './helpers/index.js';

const CLOCK = String.raw`\d\d:\d\d:\d\d\.\d{3}`;
const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('burrow agent logs', () => {
  it('--accept-new logs the relay, the fingerprint it recorded and the file', async (t) =>
    withScope(t, async (s) => {
      const fleet = await startFleet(s, { relays: 1 });
      const relay = fleet.relays[0]!;
      const kh = join(fleet.dir, 'fresh_known_hosts');
      const agent = fleet.startAgent(['--known-hosts', kh, '--accept-new', '--log-format', 'text']);
      const fp = (await runCommand(s, 'ssh-keygen', ['-lf', relay.hostKey.pubPath])).stdout.split(
        ' ',
      )[1]!;
      assert.match(fp, /^SHA256:/);
      await agent.waitForLine(
        new RegExp(
          `^${CLOCK} INFO  trusted relay ${literal(relay.id)} on first use: recorded host key ${literal(fp)} in ${literal(kh)} `,
        ),
        { stream: 'stderr' },
      );
      await agent.waitForLine(new RegExp(`^${CLOCK} INFO  registered on ${literal(relay.id)} `), {
        stream: 'stderr',
      });
      assert.match(readFileSync(kh, 'utf8'), new RegExp(literal(relay.hostKey.publicKey)));
      // Known now: a second start records nothing and says nothing about trust.
      await agent.stop();
      const again = fleet.startAgent(['--known-hosts', kh, '--accept-new', '--log-format', 'text']);
      await again.waitForLine(/registered on/, { stream: 'stderr' });
      assert.doesNotMatch(again.output('stderr'), /recorded host key/);
    }));

  it('an agent whose only relay drains says so, stays, and reconnects after it closes', async (t) =>
    withScope(t, async (s) => {
      const fleet = await startFleet(s, { relays: 1 });
      const relay = fleet.relays[0]!;
      await relay.kill();
      const proc = await relay.start(['--drain-grace', '2s']);
      const agent = fleet.startAgent(['--log-format', 'text']);
      const id = literal(relay.id);
      await agent.waitForLine(new RegExp(`INFO  registered on ${id} `), { stream: 'stderr' });

      const from = agent.mark();
      proc.signal('SIGTERM');
      await agent.waitForLine(
        new RegExp(
          `^${CLOCK} WARN  relay ${id} is draining and there is no other relay; staying until it closes`,
        ),
        { stream: 'stderr', from },
      );
      assert.equal((await proc.stopped()).code, 0);
      await agent.waitForLine(new RegExp(`connecting to ${id} \\(lost the connection to ${id}`), {
        stream: 'stderr',
        from,
      });
      const registered = agent.output('stderr').match(/registered on/g) ?? [];
      assert.equal(
        registered.length,
        1,
        `no "registered on" for the draining relay:\n${agent.tail()}`,
      );

      await relay.start();
      await agent.waitForLine(new RegExp(`INFO  registered on ${id} .*reconnects=1`), {
        stream: 'stderr',
        from,
        timeoutMs: 45_000,
      });
      assert.equal(await fleet.reach(relay), true);
    }));
});
