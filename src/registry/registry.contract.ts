import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NAME_TTL_FACTOR, type Registry, type RelayRecord, type Takeover } from './registry.js';

/**
 * The behaviour every Registry implementation must have. `make` gets a controllable clock so
 * implementations that can honour it (memory) are tested for expiry without sleeping; others
 * pass `clockControl: false` and expiry is checked with a short real TTL.
 */
export interface ContractSubject {
  make(now: () => number): Promise<Registry>;
  /** Makes every name record lapse now, as a registry that lost its data (restart, failover). */
  forget?(r: Registry): Promise<void>;
  clockControl: boolean;
}

export function registryContract(label: string, subject: ContractSubject): void {
  describe(`Registry contract: ${label}`, () => {
    let t = 1_000_000;
    const now = () => t;
    const relay = (relayId: string, more: Partial<RelayRecord> = {}) => ({
      relayId,
      address: '127.0.0.1:1',
      names: 1,
      connections: 1,
      capacity: 100,
      draining: false,
      version: '0.1.0',
      startedAt: 42,
      ...more,
    });
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
      await r.heartbeat(relay('r1'), [], ttl);
      assert.equal((await r.relays()).length, 1);
      if (subject.clockControl) t += ttl + 1;
      else await new Promise((res) => setTimeout(res, ttl + 200));
      assert.equal(await r.lookup('dev1'), undefined);
      assert.equal((await r.relays()).length, 0);
      const res = await r.claim(claim('dev1', 22, 'B', 'r2'));
      assert.equal(res.ok, true);
      await r.close();
    });

    it('looks up a batch of names, in order, as lookup reads each of them', async () => {
      const r = await subject.make(now);
      const ttl = subject.clockControl ? 10_000 : 300;
      await r.claim(claim('held', 22, 'A', 'r1'));
      await r.claim(claim('held', 80, 'A', 'r1'));
      await r.claim(claim('moved', 22, 'B', 'r1'));
      await r.claim(claim('moved', 22, 'B', 'r2'));
      await r.claim(claim('gone', 22, 'C', 'r3', ttl));
      // No heartbeats: each claim keeps its relay alive for its ttlMs, r3 only for `ttl`.
      if (subject.clockControl) t += ttl + 1;
      else await new Promise((res) => setTimeout(res, ttl + 200));
      const asked = ['moved', 'never', 'held', 'gone', 'held'];
      const batch = await r.lookupMany(asked);
      assert.deepEqual(
        batch.map((x) => x && [x.name, x.owner, x.relayId, x.ports]),
        [
          ['moved', 'B', 'r2', [22]],
          undefined,
          ['held', 'A', 'r1', [22, 80]],
          undefined,
          ['held', 'A', 'r1', [22, 80]],
        ],
      );
      const one = await Promise.all(asked.map((n) => r.lookup(n)));
      assert.deepEqual(
        batch.map((x) => x && { ...x, expiresAt: 0 }),
        one.map((x) => x && { ...x, expiresAt: 0 }),
      );
      assert.deepEqual(await r.lookupMany([]), []);
      await r.close();
    });

    it('publishes the relay record with its fields', async () => {
      const r = await subject.make(now);
      await r.heartbeat(relay('r1', { draining: true, names: 3, connections: 7 }), [], 60_000);
      const [rec, ...rest] = await r.relays();
      assert.equal(rest.length, 0);
      const { expiresAt, ...fields } = rec ?? ({} as RelayRecord);
      assert.deepEqual(fields, relay('r1', { draining: true, names: 3, connections: 7 }));
      assert.ok(expiresAt > now() - 1000, 'expiresAt in the future');
      await r.close();
    });

    it('heartbeat refreshes owned names, sets their ports, and reports names held elsewhere', async () => {
      const r = await subject.make(now);
      await r.claim(claim('mine', 22, 'A', 'r1'));
      await r.claim(claim('moved', 22, 'B', 'r2'));
      await r.claim(claim('taken', 22, 'C', 'r2'));
      const conflicts = await r.heartbeat(
        relay('r1'),
        [
          { name: 'mine', port: 22, owner: 'A' },
          { name: 'mine', port: 80, owner: 'A' },
          { name: 'moved', port: 22, owner: 'B' },
          { name: 'taken', port: 22, owner: 'A' },
        ],
        60_000,
      );
      const sorted = [...conflicts].sort((a, b) => (a.name < b.name ? -1 : 1));
      assert.deepEqual(sorted, [
        { name: 'moved', heldBy: { owner: 'B', relayId: 'r2' } },
        { name: 'taken', heldBy: { owner: 'C', relayId: 'r2' } },
      ]);
      assert.deepEqual((await r.lookup('mine'))?.ports, [22, 80]);
      assert.equal((await r.lookup('moved'))?.relayId, 'r2');
      assert.equal((await r.lookup('taken'))?.owner, 'C');
      await r.close();
    });

    it('heartbeat recreates held names the registry lost, keeping others refused', async () => {
      const r = await subject.make(now);
      const ttl = subject.clockControl ? 10_000 : 300;
      await r.claim(claim('dev1', 22, 'A', 'r1', ttl));
      await r.claim(claim('dev2', 80, 'B', 'r1', ttl));
      if (subject.forget) await subject.forget(r);
      else t += ttl + 1;
      assert.equal(await r.lookup('dev1'), undefined);
      const held = [
        { name: 'dev1', port: 22, owner: 'A' },
        { name: 'dev2', port: 80, owner: 'B' },
      ];
      assert.deepEqual(await r.heartbeat(relay('r1'), held, 60_000), []);
      assert.deepEqual((await r.lookup('dev1'))?.ports, [22]);
      assert.equal((await r.lookup('dev2'))?.owner, 'B');
      const res = await r.claim(claim('dev1', 22, 'Z', 'r9'));
      assert.deepEqual(res, { ok: false, heldBy: { owner: 'A', relayId: 'r1' } });
      await r.close();
    });

    it('a restarted relay (same host:port, new nonce) cannot release or refresh the old run\u2019s names', async () => {
      const r = await subject.make(now);
      const ttl = subject.clockControl ? 10_000 : 1500;
      const old = 'relay1:2222#0a1b2c3d';
      const restarted = 'relay1:2222#9f8e7d6c';
      await r.claim(claim('dev1', 22, 'A', old, ttl));
      await r.release('dev1', 22, restarted);
      assert.equal((await r.lookup('dev1'))?.relayId, old);
      const before = (await r.lookup('dev1'))?.expiresAt ?? 0;
      if (subject.clockControl) t += ttl / 2;
      else await new Promise((res) => setTimeout(res, 200));
      const conflicts = await r.heartbeat(
        relay(restarted),
        [{ name: 'dev1', port: 22, owner: 'A' }],
        60_000,
      );
      assert.deepEqual(conflicts, [{ name: 'dev1', heldBy: { owner: 'A', relayId: old } }]);
      const after = await r.lookup('dev1');
      assert.equal(after?.relayId, old);
      // A refresh would have pushed expiry ~60 s out; it stays where the old run's claim put it.
      assert.ok((after?.expiresAt ?? 0) < before + 1000, 'the old record was not refreshed');
      await r.close();
    });

    it('frees a name when its relay’s record expires, though its own record was written to last longer', async () => {
      const r = await subject.make(now);
      const ttl = subject.clockControl ? 10_000 : 400;
      const held = [{ name: 'dev1', port: 22, owner: 'A' }];
      await r.claim(claim('dev1', 22, 'A', 'r1', ttl));
      await r.heartbeat(relay('r1'), held, ttl);
      await r.heartbeat(relay('r1'), held, ttl);
      assert.equal((await r.lookup('dev1'))?.relayId, 'r1');
      const live = await r.lookup('dev1');
      const clock = subject.clockControl ? now() : Date.now();
      assert.ok((live?.expiresAt ?? 0) <= clock + ttl + 100, 'a name expires with its relay');
      if (subject.clockControl) t += ttl + 1;
      else await new Promise((res) => setTimeout(res, ttl + 200));
      assert.equal(await r.lookup('dev1'), undefined);
      assert.deepEqual((await r.names()).names, []);
      const res = await r.claim(claim('dev1', 22, 'B', 'r2'));
      assert.equal(res.ok && res.record.owner, 'B');
      await r.close();
    });

    it('idle heartbeats keep names alive well past their own record’s life', async () => {
      const r = await subject.make(now);
      const ttl = subject.clockControl ? 10_000 : 100;
      const step = ttl / 3;
      const held = [{ name: 'dev1', port: 22, owner: 'A' }];
      await r.claim(claim('dev1', 22, 'A', 'r1', ttl));
      // Past NAME_TTL_FACTOR × ttl: the belt resync must have rewritten the name's own key.
      for (let elapsed = 0; elapsed < ttl * (NAME_TTL_FACTOR + 2); elapsed += step) {
        await r.heartbeat(relay('r1'), held, ttl);
        if (subject.clockControl) t += step;
        else await new Promise((res) => setTimeout(res, step));
      }
      await r.heartbeat(relay('r1'), held, ttl);
      assert.deepEqual((await r.lookup('dev1'))?.ports, [22]);
      assert.equal((await r.claim(claim('dev1', 22, 'B', 'r2'))).ok, false);
      await r.close();
    });

    it('a name the relay no longer holds goes at its next heartbeat', async () => {
      const r = await subject.make(now);
      await r.claim(claim('kept', 22, 'A', 'r1'));
      await r.claim(claim('gone', 22, 'A', 'r1'));
      const both = [
        { name: 'kept', port: 22, owner: 'A' },
        { name: 'gone', port: 22, owner: 'A' },
      ];
      await r.heartbeat(relay('r1'), both, 60_000);
      assert.equal((await r.lookup('gone'))?.owner, 'A');
      await r.heartbeat(relay('r1'), () => both.slice(0, 1), 60_000);
      assert.equal(await r.lookup('gone'), undefined);
      assert.equal((await r.lookup('kept'))?.owner, 'A');
      assert.equal((await r.claim(claim('gone', 22, 'B', 'r2'))).ok, true);
      await r.close();
    });

    it('after the registry loses its data, one heartbeat republishes every held name', async () => {
      const r = await subject.make(now);
      const ttl = subject.clockControl ? 10_000 : 3000;
      const held = Array.from({ length: 1200 }, (_, i) => ({
        name: `d${i}`,
        port: 22,
        owner: `k${i % 7}`,
      }));
      // Heartbeats with nothing to reconcile first, so the next one would be an idle one.
      await r.heartbeat(relay('r1'), held, ttl);
      await r.heartbeat(relay('r1'), held, ttl);
      if (subject.forget) await subject.forget(r);
      else t += ttl + 1;
      assert.equal(await r.lookup('d0'), undefined);
      assert.deepEqual(await r.heartbeat(relay('r1'), held, ttl), []);
      for (const h of held) assert.equal((await r.lookup(h.name))?.owner, h.owner, h.name);
      await r.close();
    });

    it('announces a takeover when the owner moves a name to another relay', async () => {
      const r = await subject.make(now);
      const seen: Takeover[] = [];
      const stop = await r.onTakeover((tk) => seen.push(tk));
      await r.claim(claim('dev1', 22, 'A', 'r1'));
      await r.claim(claim('dev1', 80, 'A', 'r1'));
      await r.claim(claim('dev1', 22, 'A', 'r2'));
      await poll(() => seen.length >= 1, 'the takeover notification');
      assert.deepEqual(seen, [{ name: 'dev1', owner: 'A', from: 'r1', to: 'r2' }]);
      stop();
      await r.claim(claim('dev1', 22, 'A', 'r3'));
      await r.lookup('dev1');
      await new Promise((res) => setTimeout(res, 100));
      assert.equal(seen.length, 1, 'nothing after stop()');
      await r.close();
    });

    it('lists names page by page, filtered by prefix', async () => {
      const r = await subject.make(now);
      const all = Array.from({ length: 57 }, (_, i) => `site-${String(i).padStart(2, '0')}`);
      for (const name of all) await r.claim(claim(name, 22, 'A', 'r1'));
      await r.claim(claim('other', 22, 'A', 'r1'));
      const listAll = async (prefix: string) => {
        const got = new Set<string>();
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await r.names({ prefix, limit: 10, ...(cursor ? { cursor } : {}) });
          assert.ok(page.names.length <= 20, `page of ${page.names.length} for limit 10`);
          for (const rec of page.names) {
            assert.ok(rec.name.startsWith(prefix), rec.name);
            assert.equal(rec.owner, 'A');
            got.add(rec.name);
          }
          cursor = page.cursor;
          pages += 1;
          assert.ok(pages < 100, 'the listing ends');
        } while (cursor);
        return { names: [...got].sort(), pages };
      };
      const sites = await listAll('site-');
      assert.deepEqual(sites.names, all);
      assert.ok(sites.pages >= 2, `paged (${sites.pages} pages)`);
      assert.deepEqual((await listAll('')).names, [...all, 'other'].sort());
      assert.deepEqual((await listAll('nope')).names, []);
      await r.close();
    });
  });
}

async function poll(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}
