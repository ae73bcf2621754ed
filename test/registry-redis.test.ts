/**
 * The registry contract against a real redis-server, and what only Redis can do wrong: two
 * relays racing for names, a Redis that restarts empty, real TTL expiry, a Redis that is down.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  REGISTRY_NAME_KEY,
  REGISTRY_RELAY_KEY,
  REGISTRY_RELAY_NAMES_KEY,
} from '../src/core/constants.js';
import { isBurrowError } from '../src/core/errors.js';
import { createRegistry } from '../src/registry/index.js';
import { RedisRegistry } from '../src/registry/redis.js';
import { registryContract } from '../src/registry/registry.contract.js';
import { NAME_TTL_FACTOR, type Registry } from '../src/registry/registry.js';
import { parseRegistryUrl } from '../src/registry/url.js';
import { freePort, Scope, waitFor, withScope } from './helpers/index.js';
import { type RedisServer, startRedis, startSentinel } from './helpers/redis.js';

const relay = (relayId: string) => ({
  relayId,
  address: '127.0.0.1:1',
  names: 0,
  connections: 0,
  capacity: 0,
  draining: false,
  version: 'test',
  startedAt: 1,
});

async function connect(url: string, opts = {}): Promise<RedisRegistry> {
  const target = parseRegistryUrl(url);
  assert.ok(target.kind === 'redis');
  return RedisRegistry.connect(target, opts);
}

describe('Redis registry', () => {
  const shared = new Scope();
  let server: RedisServer;
  before(async () => {
    server = await startRedis(shared);
  });
  after(() => shared.close());

  registryContract('redis', {
    make: async () => {
      server.cli('FLUSHALL');
      return connect(server.url);
    },
    forget: async () => {
      server.cli('FLUSHALL');
    },
    clockControl: false,
  });

  it('two relays racing 200 claims for the same names: exactly one owner each', async () => {
    server.cli('FLUSHALL');
    const a = await connect(server.url);
    const b = await connect(server.url);
    try {
      const names = Array.from({ length: 200 }, (_, i) => `race-${i}`);
      // A goes through the names in order, B backwards, each as fast as it can: they collide
      // in the middle, where both have claims in flight for the same names.
      const attempt = (r: Registry, owner: string, relayId: string, order: string[]) =>
        Promise.all(
          order.map((name) => r.claim({ name, port: 22, owner, relayId, ttlMs: 60_000 })),
        );
      const [fromA, backB] = await Promise.all([
        attempt(a, 'A', 'ra', names),
        attempt(b, 'B', 'rb', [...names].reverse()),
      ]);
      const fromB = backB.reverse();
      let winsA = 0;
      for (let i = 0; i < names.length; i++) {
        const ra = fromA[i];
        const rb = fromB[i];
        assert.notEqual(ra?.ok, rb?.ok, `${names[i]}: exactly one claim wins`);
        const winner = ra?.ok ? 'A' : 'B';
        if (winner === 'A') winsA += 1;
        const loser = ra?.ok ? rb : ra;
        assert.equal(loser?.ok === false && loser.heldBy.owner, winner);
        assert.equal((await a.lookup(names[i] ?? ''))?.owner, winner);
      }
      assert.equal(Number(server.cli('DBSIZE')) >= 200, true);
      assert.ok(winsA > 0 && winsA < 200, `both relays won some names (A won ${winsA})`);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('after SHUTDOWN NOSAVE and a restart, the next heartbeat recreates every held name', async (t) => {
    await withScope(t, async (s) => {
      const redis = await startRedis(s, { name: 'redis-restart' });
      const r = await connect(redis.url, { commandTimeoutMs: 1000 });
      s.defer(() => r.close());
      const held = Array.from({ length: 30 }, (_, i) => ({ name: `d${i}`, port: 22, owner: 'A' }));
      for (const h of held) await r.claim({ ...h, relayId: 'r1', ttlMs: 60_000 });
      await redis.restart();
      assert.equal(redis.cli('DBSIZE'), '0', 'restarted empty');
      // The client reconnects by itself; the first heartbeat after that republishes everything.
      const conflicts = await waitFor(() => r.heartbeat(relay('r1'), held, 60_000), {
        what: 'a heartbeat to succeed after the restart',
      });
      assert.deepEqual(conflicts, []);
      for (const h of held) assert.equal((await r.lookup(h.name))?.relayId, 'r1', h.name);
      // The name lives as long as the relay record; its own key is reaped long after.
      const ttl = Number(redis.cli('PTTL', `${REGISTRY_RELAY_KEY}r1`));
      assert.ok(ttl > 50_000 && ttl <= 60_000, `relay TTL ${ttl}`);
      const own = Number(redis.cli('PTTL', `${REGISTRY_NAME_KEY}d0`));
      assert.ok(
        own > 60_000 * (NAME_TTL_FACTOR - 1) && own <= 60_000 * NAME_TTL_FACTOR,
        `name TTL ${own}`,
      );
    });
  });

  it('a name the relay stopped holding is deleted by its next heartbeat; held ones stay', async () => {
    server.cli('FLUSHALL');
    const r = await connect(server.url);
    try {
      await r.claim({ name: 'kept', port: 22, owner: 'A', relayId: 'r1', ttlMs: 400 });
      await r.claim({ name: 'lapsed', port: 22, owner: 'A', relayId: 'r1', ttlMs: 400 });
      for (let i = 0; i < 4; i++) {
        await new Promise((res) => setTimeout(res, 200));
        await r.heartbeat(relay('r1'), [{ name: 'kept', port: 22, owner: 'A' }], 400);
      }
      assert.equal(await r.lookup('lapsed'), undefined);
      assert.equal((await r.lookup('kept'))?.owner, 'A');
      assert.equal(server.cli('EXISTS', `${REGISTRY_NAME_KEY}lapsed`), '0');
    } finally {
      await r.close();
    }
  });

  it('an idle heartbeat costs O(1) commands whatever the relay holds; a lost name set costs one reconcile', async () => {
    server.cli('FLUSHALL');
    const r = await connect(server.url);
    try {
      const held = Array.from({ length: 2000 }, (_, i) => ({
        name: `i${i}`,
        port: 22,
        owner: 'A',
      }));
      await r.heartbeat(relay('r1'), held, 60_000);
      assert.equal(Number(server.cli('SCARD', `${REGISTRY_RELAY_NAMES_KEY}r1`)), 2000);
      // Commands Redis runs for one heartbeat, Lua's included; the INFO call itself is one.
      const commands = async (beat: () => Promise<unknown>) => {
        const stat = () =>
          Number(/total_commands_processed:(\d+)/.exec(server.cli('INFO', 'stats'))?.[1]);
        const before = stat();
        await beat();
        return stat() - before - 1;
      };
      const idle = await commands(() => r.heartbeat(relay('r1'), held, 60_000));
      assert.ok(idle <= 10, `an idle heartbeat ran ${idle} commands`);
      // A name set that lost a member (a replica that lagged): the count differs, so reconcile.
      server.cli('SREM', `${REGISTRY_RELAY_NAMES_KEY}r1`, 'i7');
      server.cli('DEL', `${REGISTRY_NAME_KEY}i7`);
      const full = await commands(() => r.heartbeat(relay('r1'), held, 60_000));
      assert.ok(full > 2000 * 3, `a reconciling heartbeat ran ${full} commands`);
      assert.equal((await r.lookup('i7'))?.owner, 'A');
      assert.ok((await commands(() => r.heartbeat(relay('r1'), held, 60_000))) <= 10);
    } finally {
      await r.close();
    }
  });

  it('heartbeats during a burst of registrations do not reconcile: claims in flight are allowed for', async () => {
    server.cli('FLUSHALL');
    const r = await connect(server.url);
    try {
      server.cli('CONFIG', 'RESETSTAT');
      // A relay's local table: a route is added once its claim has answered, as the relay does.
      const held: { name: string; port: number; owner: string }[] = [];
      await r.heartbeat(relay('r1'), () => held, 60_000); // the first one reconciles (nothing)
      let next = 0;
      let beats = 0;
      const claimers = Array.from({ length: 64 }, async () => {
        while (next < 3000) {
          const name = `b${next++}`;
          const res = await r.claim({ name, port: 22, owner: 'A', relayId: 'r1', ttlMs: 60_000 });
          if (res.ok) held.push({ name, port: 22, owner: 'A' });
        }
      });
      let done = false;
      const beating = (async () => {
        while (!done) {
          await r.heartbeat(relay('r1'), () => held, 60_000);
          beats += 1;
        }
      })();
      await Promise.all(claimers);
      done = true;
      await beating;
      const reconciles = Number(
        /cmdstat_smembers:calls=(\d+)/.exec(server.cli('INFO', 'commandstats'))?.[1] ?? 0,
      );
      assert.ok(beats >= 5, `${beats} heartbeats ran during the burst`);
      assert.equal(held.length, 3000);
      assert.ok(reconciles <= 1, `${reconciles} reconciles over ${beats} heartbeats`);
      assert.equal(Number(server.cli('SCARD', `${REGISTRY_RELAY_NAMES_KEY}r1`)), 3000);
    } finally {
      await r.close();
    }
  });

  it('a lookup that finds a name whose relay is gone deletes it', async () => {
    server.cli('FLUSHALL');
    const r = await connect(server.url);
    try {
      await r.claim({ name: 'orphan', port: 22, owner: 'A', relayId: 'dead', ttlMs: 60_000 });
      assert.equal((await r.lookup('orphan'))?.relayId, 'dead');
      server.cli('DEL', `${REGISTRY_RELAY_KEY}dead`); // as its TTL would
      assert.equal(server.cli('EXISTS', `${REGISTRY_NAME_KEY}orphan`), '1');
      assert.equal(await r.lookup('orphan'), undefined);
      assert.equal(server.cli('EXISTS', `${REGISTRY_NAME_KEY}orphan`), '0');
    } finally {
      await r.close();
    }
  });

  it('with Redis down, operations reject fast; they work again once it is back', async (t) => {
    await withScope(t, async (s) => {
      const redis = await startRedis(s, { name: 'redis-down' });
      const states: string[] = [];
      const r = await connect(redis.url, {
        commandTimeoutMs: 1000,
        onState: (state: string) => states.push(state),
      });
      s.defer(() => r.close());
      await redis.stop();
      const started = Date.now();
      await assert.rejects(r.claim({ name: 'x', port: 22, owner: 'A', relayId: 'r1', ttlMs: 1e4 }));
      await assert.rejects(r.lookup('x'));
      await assert.rejects(r.heartbeat(relay('r1'), [], 10_000));
      const took = Date.now() - started;
      assert.ok(took < 3500, `three failing calls took ${took} ms`);
      await redis.restart();
      const res = await waitFor(
        () => r.claim({ name: 'x', port: 22, owner: 'A', relayId: 'r1', ttlMs: 10_000 }),
        { what: 'a claim to succeed once Redis is back' },
      );
      assert.equal(res.ok, true);
      assert.deepEqual(states.slice(0, 2), ['lost', 'restored']);
    });
  });

  it('a stopped (SIGSTOP) Redis makes calls time out instead of hanging', async (t) => {
    await withScope(t, async (s) => {
      const redis = await startRedis(s, { name: 'redis-stopped' });
      const r = await connect(redis.url, { commandTimeoutMs: 500 });
      s.defer(() => r.close());
      redis.proc().signal('SIGSTOP');
      s.defer(() => redis.proc().signal('SIGCONT'));
      const started = Date.now();
      await assert.rejects(r.lookup('x'), /no answer within 500 ms/);
      assert.ok(Date.now() - started < 2000);
      redis.proc().signal('SIGCONT');
    });
  });

  it('silentMs: 0 when idle, grows while a stopped Redis answers nothing, 0 once it answers', async (t) => {
    await withScope(t, async (s) => {
      const redis = await startRedis(s, { name: 'redis-silent' });
      const r = await connect(redis.url, { commandTimeoutMs: 5000 });
      s.defer(() => r.close());
      await r.lookup('x');
      assert.equal(r.silentMs(), 0);
      s.defer(() => redis.proc().signal('SIGCONT'));
      redis.proc().signal('SIGSTOP');
      const pending = r.lookup('x');
      await waitFor(() => r.silentMs() >= 300, { what: 'the link to report 300 ms of silence' });
      redis.proc().signal('SIGCONT');
      assert.equal(await pending, undefined);
      assert.equal(r.silentMs(), 0);
    });
  });

  it('createRegistry: an unreachable Redis is one clear error with the password masked', async () => {
    const port = await freePort();
    const url = `redis://burrow:hunter2secret@127.0.0.1:${port}/0`;
    const started = Date.now();
    await assert.rejects(createRegistry(url), (err: unknown) => {
      assert.ok(isBurrowError(err));
      assert.equal(
        err.message,
        `--registry redis://burrow:***@127.0.0.1:${port}/0: cannot connect: ECONNREFUSED`,
      );
      assert.ok(!JSON.stringify({ m: err.message, s: String(err) }).includes('hunter2secret'));
      return true;
    });
    assert.ok(Date.now() - started < 5000);
  });

  it('createRegistry: a wrong password is refused by name, never echoed', async (t) => {
    await withScope(t, async (s) => {
      const redis = await startRedis(s, { name: 'redis-auth', args: ['--requirepass', 'right1'] });
      const url = `redis://:wrong-pass-xyz@127.0.0.1:${redis.port}`;
      await assert.rejects(createRegistry(url), (err: unknown) => {
        assert.ok(isBurrowError(err));
        assert.match(
          err.message,
          /^--registry redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: cannot connect: /,
        );
        assert.ok(!err.message.includes('wrong-pass-xyz'));
        return true;
      });
      const ok = await createRegistry(`redis://:right1@127.0.0.1:${redis.port}`);
      await ok.claim({ name: 'n', port: 22, owner: 'A', relayId: 'r', ttlMs: 10_000 });
      assert.equal((await ok.lookup('n'))?.owner, 'A');
      await ok.close();
    });
  });

  it('connects through a sentinel (redis-sentinel://) and claims work', async (t) => {
    await withScope(t, async (s) => {
      const redis = await startRedis(s, { name: 'redis-master' });
      const sentinel = await startSentinel(s, redis, 'mymaster');
      const r = await createRegistry(`${sentinel.url}/2`);
      s.defer(() => r.close());
      const res = await r.claim({ name: 'sdev', port: 22, owner: 'A', relayId: 'r1', ttlMs: 1e4 });
      assert.equal(res.ok, true);
      assert.equal((await r.lookup('sdev'))?.owner, 'A');
      assert.equal(redis.cli('-n', '2', 'HGET', `${REGISTRY_NAME_KEY}sdev`, 'owner'), 'A');
    });
  });
});
