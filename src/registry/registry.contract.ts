import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Registry } from './registry.js';

/**
 * The behaviour every Registry implementation must have. `make` gets a controllable clock so
 * implementations that can honour it (memory) are tested for expiry without sleeping; others
 * pass `clockControl: false` and expiry is checked with a short real TTL.
 */
export interface ContractSubject {
  make(now: () => number): Promise<Registry>;
  clockControl: boolean;
}

export function registryContract(label: string, subject: ContractSubject): void {
  describe(`Registry contract: ${label}`, () => {
    let t = 1_000_000;
    const now = () => t;
    const claim = (name: string, port: number, owner: string, relayId: string, ttlMs = 60_000) => ({
      name,
      port,
      owner,
      relayId,
      ttlMs,
    });

    it('claims a free name and looks it up', async () => {
      const r = await subject.make(now);
      const res = await r.claim(claim('dev1', 22, 'A', 'r1'));
      assert.equal(res.ok, true);
      const rec = await r.lookup('dev1');
      assert.equal(rec?.owner, 'A');
      assert.equal(rec?.relayId, 'r1');
      assert.deepEqual(rec?.ports, [22]);
      await r.close();
    });

    it('refuses another owner and names the holder', async () => {
      const r = await subject.make(now);
      await r.claim(claim('dev1', 22, 'A', 'r1'));
      const res = await r.claim(claim('dev1', 80, 'B', 'r2'));
      assert.deepEqual(res, { ok: false, heldBy: { owner: 'A', relayId: 'r1' } });
      await r.close();
    });

    it('accumulates ports and releases them one by one', async () => {
      const r = await subject.make(now);
      await r.claim(claim('dev1', 80, 'A', 'r1'));
      await r.claim(claim('dev1', 22, 'A', 'r1'));
      assert.deepEqual((await r.lookup('dev1'))?.ports, [22, 80]);
      await r.release('dev1', 80, 'r1');
      assert.deepEqual((await r.lookup('dev1'))?.ports, [22]);
      await r.release('dev1', 22, 'r1');
      assert.equal(await r.lookup('dev1'), undefined);
      const res = await r.claim(claim('dev1', 22, 'B', 'r2'));
      assert.equal(res.ok, true);
      await r.close();
    });

    it('lets the same owner move a name to another relay; the old relay cannot release it', async () => {
      const r = await subject.make(now);
      await r.claim(claim('dev1', 22, 'A', 'r1'));
      const moved = await r.claim(claim('dev1', 22, 'A', 'r2'));
      assert.equal(moved.ok && moved.record.relayId, 'r2');
      await r.release('dev1', 22, 'r1');
      assert.equal((await r.lookup('dev1'))?.relayId, 'r2');
      await r.close();
    });

    it('expires records whose relay stopped heartbeating', async () => {
      const r = await subject.make(now);
      const ttl = subject.clockControl ? 10_000 : 300;
      await r.claim(claim('dev1', 22, 'A', 'r1', ttl));
      await r.heartbeat(
        { relayId: 'r1', address: '127.0.0.1:1', names: 1, connections: 1, draining: false },
        ttl,
      );
      assert.equal((await r.relays()).length, 1);
      if (subject.clockControl) t += ttl + 1;
      else await new Promise((res) => setTimeout(res, ttl + 200));
      assert.equal(await r.lookup('dev1'), undefined);
      assert.equal((await r.relays()).length, 0);
      const res = await r.claim(claim('dev1', 22, 'B', 'r2'));
      assert.equal(res.ok, true);
      await r.close();
    });
  });
}
