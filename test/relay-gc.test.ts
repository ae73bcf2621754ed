/**
 * What a bulk transfer costs the relay in garbage collection, read as an operator reads it: the
 * relay's own `burrow_nodejs_gc_duration_seconds` metric around 256 MiB sent through it with
 * stock OpenSSH (`ssh -R` device, `ssh -J` operator).
 *
 * Every socket read and every outgoing SSH packet is a fresh ArrayBuffer. With V8's concurrent
 * ArrayBuffer sweeping, the bytes of dead buffers stay on V8's external-memory count until a
 * background task frees them, the count crosses its limit and V8 runs a full mark-compact: 17 and
 * 18 for these 256 MiB in two runs with the sweeping left on, 5 with it off, which is what
 * burrow's executables do (src/core/v8-flags.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startFleet } from './helpers/fleet.js';
import { createSshClient, runCommand, withScope } from './helpers/index.js';
import { metricsUrlOf, scrape } from './helpers/metrics.js';

const BYTES = 256 * 1024 * 1024;

describe('relay: garbage collection under bulk data', () => {
  it('forwards 256 MiB through ssh -J with few full collections', async (t) =>
    withScope(t, async (s) => {
      const fleet = await startFleet(s, { relays: 1 });
      const relay = fleet.relays[0]!;
      await relay.kill();
      const url = await metricsUrlOf(await relay.start(['--metrics-listen', '127.0.0.1:0']));
      const device = await createSshClient(s, { identity: fleet.devKey });
      device.addHost({
        alias: 'relay1',
        port: relay.port,
        user: 'burrow',
        hostKey: relay.hostKey.publicKey,
      });
      const tunnel = device.spawn(
        [
          ...['-N', '-o', 'ExitOnForwardFailure=yes'],
          ...['-R', `dev1:22:127.0.0.1:${fleet.sshd.port}`, 'relay1'],
        ],
        { name: 'device dev1' },
      );
      await fleet.waitReachable(relay, 15_000);
      assert.equal(tunnel.exit, undefined);

      // prom-client adds the kind="major" series at the first full collection: none yet is 0.
      const major = async () => {
        const m = (await scrape(url)).text.match(
          /^burrow_nodejs_gc_duration_seconds_count\{kind="major"\} (\d+)$/m,
        );
        return m ? Number(m[1]) : 0;
      };
      const before = await major();
      const ssh = `${fleet.op.command()} -J relay1 dev1 'wc -c'`;
      const r = await runCommand(s, 'bash', ['-c', `head -c ${BYTES} /dev/zero | ${ssh}`], {
        timeoutMs: 120_000,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), String(BYTES), 'the device counted every byte');
      const full = (await major()) - before;
      t.diagnostic(`full (mark-compact) collections in the relay for 256 MiB: ${full}`);
      assert.ok(
        full <= 10,
        `${full} full collections for 256 MiB (17 or more without the setting)`,
      );
    }));
});
