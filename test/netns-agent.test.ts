/**
 * Real network faults between `burrow agent` and its relay: the agent reaches relay1 through a
 * veth link between two network namespaces (helpers/netns.ts) where the kernel drops packets, and
 * relay2 directly. A partition (both ways, or one way) is silence, not a close: the agent must
 * find it by its keepalives and move; random loss must not make it move at all.
 */
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { type Fleet, type FleetRelay, startFleet } from './helpers/fleet.js';
import { type Scope, waitFor, withScope } from './helpers/index.js';
import { type FaultLink, netnsUnavailable, startLink } from './helpers/netns.js';

const why = netnsUnavailable();

/** Sends `msg` through `port` to an echo server; resolves with the round trip, or none in time. */
async function echoOnce(port: number, msg: string, timeoutMs: number): Promise<number | 'none'> {
  const started = Date.now();
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      sock.destroy();
      resolve('none');
    }, timeoutMs);
    sock.on('error', () => {});
    sock.once('data', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(Date.now() - started);
    });
    sock.write(msg);
  });
}

async function echoServer(s: Scope): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer((c) => {
    c.on('error', () => {});
    c.pipe(c);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  s.defer(() => new Promise<void>((r) => server.close(() => r())), 'echo server');
  const a = server.address();
  return typeof a === 'object' && a ? a.port : 0;
}

/** The agent on relay1 through `link` (moving it there first if it picked relay2). */
async function agentThroughLink(fleet: Fleet, link: FaultLink) {
  const [r1, r2] = fleet.relays as [FleetRelay, FleetRelay];
  appendFileSync(fleet.knownHosts, `[127.0.0.1]:${link.port} ${r1.hostKey.publicKey}\n`);
  const agent = fleet.startAgent([
    ...['--relay', `${link.addr},${r2.id}`],
    ...['--keepalive-interval', '1s', '--keepalive-count', '2'],
  ]);
  await agent.waitForLine(/registered on/, { stream: 'stderr' });
  if ((await fleet.status()).state.relay === r2.id) {
    await r2.kill();
    await waitFor(async () => (await fleet.status()).state.relay === link.addr, {
      what: 'the agent on relay1 through the link',
      timeoutMs: 10_000,
    });
    await r2.start();
  }
  return agent;
}

describe('network namespaces: the fault link itself', { skip: why }, () => {
  it('carries bytes, drops them all when blackholed, carries them again when healed', async (t) =>
    withScope(t, async (s) => {
      const link = await startLink(s, await echoServer(s));
      assert.equal(typeof (await echoOnce(link.port, 'x', 5000)), 'number');
      link.blackhole();
      assert.equal(await echoOnce(link.port, 'x', 1500), 'none');
      link.heal();
      assert.equal(typeof (await echoOnce(link.port, 'x', 5000)), 'number');
      link.oneWay('b->a');
      assert.equal(await echoOnce(link.port, 'x', 1500), 'none', 'replies are dropped');
    }));

  it('adds the delay it was given, each way', async (t) =>
    withScope(t, async (s) => {
      const link = await startLink(s, await echoServer(s), { delayMs: 150 });
      const rtt = await echoOnce(link.port, 'x', 5000);
      assert.ok(typeof rtt === 'number' && rtt >= 300, `round trip ${rtt} ms`);
    }));

  it('limits the rate with tc tbf', async (t) =>
    withScope(t, async (s) => {
      const link = await startLink(s, await echoServer(s));
      link.rate(800); // 100 KB/s
      const total = 300 * 1024;
      const started = Date.now();
      await new Promise<void>((resolve, reject) => {
        const sock = connect(link.port, '127.0.0.1');
        let got = 0;
        sock.on('error', reject);
        sock.on('data', (d) => {
          got += d.length;
          if (got >= total) {
            sock.destroy();
            resolve();
          }
        });
        sock.write(Buffer.alloc(total, 1));
      });
      const ms = Date.now() - started;
      assert.ok(ms >= 2000, `300 KiB echoed at 100 KB/s in ${ms} ms`);
    }));
});

describe('burrow agent across a network partition', { skip: why }, () => {
  it('a silent partition (both ways) moves the agent within its keepalive bound', async (t) =>
    withScope(t, async (s) => {
      const fleet = await startFleet(s, { relays: 2 });
      const [r1, r2] = fleet.relays as [FleetRelay, FleetRelay];
      const link = await startLink(s, r1.port);
      const agent = await agentThroughLink(fleet, link);
      assert.equal(await fleet.reach(r1), true, 'dev1 through relay1 before the partition');

      const cutAt = Date.now();
      link.blackhole();
      await waitFor(async () => (await fleet.status()).state.relay === r2.id, {
        what: 'the agent to leave the partitioned relay',
        timeoutMs: 15_000,
        intervalMs: 50,
      });
      const movedMs = Date.now() - cutAt;
      // keepalive 1 s × 2, then a connect to relay2; slack for a loaded machine.
      assert.ok(movedMs >= 1000 && movedMs < 8000, `moved ${movedMs} ms after the partition`);
      assert.match(agent.output('stderr'), /keepalive-timeout/);
      assert.equal(await fleet.reach(r2), true, 'dev1 through relay2 after the move');
    }));

  it('a one-way partition (the relay hears the agent, the agent hears nothing) moves it too', async (t) =>
    withScope(t, async (s) => {
      const fleet = await startFleet(s, { relays: 2 });
      const [r1, r2] = fleet.relays as [FleetRelay, FleetRelay];
      const link = await startLink(s, r1.port);
      const agent = await agentThroughLink(fleet, link);

      link.oneWay('b->a');
      await waitFor(async () => (await fleet.status()).state.relay === r2.id, {
        what: 'the agent to leave the relay it no longer hears',
        timeoutMs: 15_000,
        intervalMs: 50,
      });
      assert.match(agent.output('stderr'), /keepalive-timeout/);
      assert.equal(await fleet.reach(r2), true, 'dev1 through relay2');
    }));

  it('5% random loss for 6 s: the agent stays put and dev1 stays reachable', async (t) =>
    withScope(t, async (s) => {
      const fleet = await startFleet(s, { relays: 2 });
      const [r1] = fleet.relays as [FleetRelay, FleetRelay];
      const link = await startLink(s, r1.port);
      await agentThroughLink(fleet, link);
      const before = (await fleet.status()).state.reconnects;

      link.loss(0.05);
      const until = Date.now() + 6000;
      let reached = 0;
      while (Date.now() < until) {
        assert.equal(await fleet.reach(r1, 15_000), true, 'dev1 through relay1 under loss');
        reached++;
      }
      const st = (await fleet.status()).state;
      assert.equal(st.relay, link.addr, 'still on relay1');
      assert.equal(st.reconnects, before, 'no reconnect under 5% loss');
      t.diagnostic(`${reached} operator sessions through a 5%-loss link`);
    }));
});
