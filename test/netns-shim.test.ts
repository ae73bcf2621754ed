/**
 * `rsync -e burrow-shim` across a real lossy, slow, partitioned network: the operator reaches the
 * relay through a veth link between two network namespaces (helpers/netns.ts) that loses 2% of
 * packets each way, adds 200 ms to every round trip, and is partitioned (both ways, silently) for
 * 5 s each time the transfer has grown by another step. The file must arrive byte for byte.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCommand, tmpDir, withScope } from './helpers/index.js';
import { installBurrow } from './helpers/install.js';
import { netnsUnavailable, startLink } from './helpers/netns.js';
import { bytesSoFar, reconnects, startShimWorld } from './helpers/shim.js';

const MiB = 1024 * 1024;
const why = netnsUnavailable();

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

describe('burrow shim across a lossy, delayed, partitioned link', { skip: why }, () => {
  it('rsync delivers identical bytes through 2% loss, +200 ms and 5 s partitions', async (t) =>
    withScope(t, async (s) => {
      const w = await startShimWorld(s, { install: await installBurrow(s, { scripts: false }) });
      const relay1 = w.fleet.relays[0]!;
      // 100 ms each way in the forwarder: +200 ms per round trip, as `netem delay 200ms` would.
      const link = await startLink(s, relay1.port, { delayMs: 100 });
      w.fleet.op.addHost({
        alias: relay1.alias,
        port: link.port,
        user: 'burrow',
        hostKeyAlias: 'relay1-key',
      });
      w.fleet.op.trust('relay1-key', relay1.hostKey.publicKey);
      link.loss(0.02);

      const dir = await tmpDir(s);
      const src = join(dir, 'src.bin');
      const dst = join(dir, 'dst.bin');
      writeFileSync(src, randomBytes(12 * MiB));
      // ssh gives up on a silent connection after 1 s × 2, so each partition breaks it and the
      // shim must resume the session; without that ssh would ride out a 5 s stall on TCP alone.
      const shim = 'burrow-shim -o ServerAliveInterval=1 -o ServerAliveCountMax=2';
      const rsync = runCommand(s, 'rsync', ['--bwlimit=1m', '-e', shim, src, `dev1:${dst}`], {
        timeoutMs: 90_000,
        env: w.env,
      });
      let finished = false;
      void rsync.then(() => {
        finished = true;
      });

      // A 5 s partition each time another 3 MiB have arrived, while at least 2 MiB remain.
      const partitionsAt: number[] = [];
      for (let at = 3 * MiB; at <= 10 * MiB && !finished; ) {
        const n = bytesSoFar(dst);
        if (n < at) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        link.blackhole();
        partitionsAt.push(n);
        await new Promise((r) => setTimeout(r, 5000));
        link.loss(0.02);
        at = n + 3 * MiB;
      }
      const r = await rsync;
      t.diagnostic(
        `partitions at ${partitionsAt.map((n) => (n / MiB).toFixed(1)).join(', ')} MiB; ` +
          `${reconnects(r.stderr)} reconnects; ${r.durationMs} ms`,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.ok(partitionsAt.length >= 2, `partitions mid-transfer at ${partitionsAt.join(', ')}`);
      assert.ok(reconnects(r.stderr) >= 1, `the shim resumed after a partition: ${r.stderr}`);
      assert.equal(await sha256(dst), await sha256(src));
    }));
});
