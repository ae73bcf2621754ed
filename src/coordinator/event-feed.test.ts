import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { waitFor } from '../../test/helpers/wait.js';
import { MemoryRegistry } from '../registry/memory.js';
import type { Registry, RelayRecord } from '../registry/registry.js';
import { startEventFeed } from './event-feed.js';

const TTL = 15_000;
const log = pino({ level: 'silent' });

function beat(registry: MemoryRegistry, id: string, held: { name: string; owner: string }[] = []) {
  return registry.heartbeat(
    {
      relayId: id,
      address: `${id}:2222`,
      names: held.length,
      connections: held.length,
      capacity: 0,
      draining: false,
      version: 'test',
      startedAt: 0,
    },
    held.map((h) => ({ ...h, port: 22 })),
    TTL,
  );
}

describe('startEventFeed', () => {
  it('turns relay polls and takeovers into events, and stops on close', async () => {
    const registry = new MemoryRegistry();
    await beat(registry, 'a');
    const feed = startEventFeed({ ttlMs: TTL, intervalMs: 10 }, { registry, now: Date.now, log });
    try {
      // The first poll only learns the fleet: "a" is not reported as joined.
      await new Promise((r) => setTimeout(r, 50));
      await beat(registry, 'b');
      await waitFor(() => feed.ring.recent(10).length > 0, { what: 'b to join' });
      const claim = { name: 'dev1', port: 22, owner: 'SHA256:o', ttlMs: TTL };
      assert.equal((await registry.claim({ ...claim, relayId: 'a' })).ok, true);
      assert.equal((await registry.claim({ ...claim, relayId: 'b' })).ok, true);
      await waitFor(() => feed.ring.recent(10).some((e) => e.kind === 'moved'), {
        what: 'the takeover of dev1',
      });
      assert.deepEqual(
        feed.ring.recent(10).map((e) => ('relayId' in e ? [e.kind, e.relayId] : [e.kind, e.name])),
        [
          ['moved', 'dev1'],
          ['joined', 'b'],
        ],
      );
    } finally {
      feed.close();
      feed.close();
    }
    const before = feed.ring.recent(10).length;
    await beat(registry, 'c');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(feed.ring.recent(10).length, before, 'no poll after close');
  });

  it('keeps going when the registry fails, and picks up once it answers', async () => {
    let failing = true;
    const relays: RelayRecord[] = [];
    const registry: Pick<Registry, 'relays' | 'onTakeover'> = {
      relays: async () => {
        if (failing) throw new Error('down');
        return relays;
      },
      onTakeover: async () => {
        if (failing) throw new Error('down');
        return () => {};
      },
    };
    const feed = startEventFeed({ ttlMs: TTL, intervalMs: 10 }, { registry, now: Date.now, log });
    try {
      await new Promise((r) => setTimeout(r, 50));
      failing = false;
      await new Promise((r) => setTimeout(r, 50));
      relays.push({
        relayId: 'x',
        address: 'x:1',
        names: 0,
        connections: 0,
        capacity: 0,
        draining: false,
        version: 't',
        startedAt: 0,
        expiresAt: Date.now() + TTL,
      });
      await waitFor(() => feed.ring.recent(1)[0]?.kind === 'joined', { what: 'x to join' });
    } finally {
      feed.close();
    }
  });
});
