/**
 * Devices that vanish mid-stream must not leak memory in the relay: hundreds of cycles of
 * register → transfer → abrupt reset, with the heap measured after forced garbage collections.
 * ssh2 clients stand in for devices and operators here because the point is the relay's heap
 * over many cycles, which real ssh processes would make slow; the other relay tests use OpenSSH.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
import ssh2 from '../src/ssh/ssh2.js';
import { heapAfterGc, startKeyedRelay } from './helpers/heap.js';
import { waitFor, within, withScope } from './helpers/index.js';
import type { TestRelay } from './helpers/relay.js';

function login(relay: TestRelay, privateKey: string): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.once('ready', () => resolve(c));
    c.once('error', reject);
    c.once('close', () => reject(new Error('the relay closed the connection before ready')));
    c.connect({ host: '127.0.0.1', port: relay.port, username: 'x', privateKey });
  });
}

/** Bounds one step of a cycle: a step that stalls fails the test naming it and the relay's state. */
function step<T>(relay: TestRelay, what: string, p: Promise<T>): Promise<T> {
  return within(p, 15_000, `${what} (relay: ${JSON.stringify(relay.relay.stats())})`);
}

/** One cycle: a device registers, a client round-trips 16 KiB through it, the device is reset. */
async function cycle(relay: TestRelay, devKey: string, opKey: string): Promise<void> {
  const device = await step(relay, 'the device to log in', login(relay, devKey));
  device.on('error', () => {});
  device.on('tcp connection', (_info, accept) => {
    const ch = accept();
    ch.on('data', (d: Buffer) => ch.write(d));
  });
  await step(
    relay,
    'the relay to answer tcpip-forward dev1:22',
    new Promise<void>((resolve, reject) =>
      device.forwardIn('dev1', 22, (err) => (err ? reject(err) : resolve())),
    ),
  );
  const op = await step(relay, 'the operator to log in', login(relay, opKey));
  op.on('error', () => {});
  const ch = await step(
    relay,
    'the relay to open dev1:22 for the operator',
    new Promise<ssh2.ClientChannel>((resolve, reject) =>
      op.forwardOut('127.0.0.1', 1, 'dev1', 22, (err, c) => (err ? reject(err) : resolve(c))),
    ),
  );
  const payload = Buffer.alloc(16 * 1024, 7);
  let got = 0;
  const echoed = new Promise<void>((resolve) => {
    ch.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= payload.length) resolve();
    });
  });
  ch.write(payload);
  await step(relay, 'the 16 KiB echo', echoed);
  // The device vanishes: a TCP reset, no SSH goodbye, mid-channel.
  (device as unknown as { _sock: Socket })._sock.resetAndDestroy();
  op.end();
}

describe('relay: memory', () => {
  it('does not grow across hundreds of vanishing devices', async (t) =>
    withScope(t, async (s) => {
      const { relay, devKey, opKey } = await startKeyedRelay(s);
      const settle = () =>
        waitFor(() => relay.relay.stats().connections === 0 && relay.relay.stats().routes === 0, {
          what: 'every connection released',
        });

      for (let i = 0; i < 60; i++) await cycle(relay, devKey, opKey);
      await settle();
      // The audit recorder keeps every event; measure what the relay keeps, not the test.
      relay.audit.events.length = 0;
      const before = heapAfterGc();
      for (let i = 0; i < 300; i++) await cycle(relay, devKey, opKey);
      await settle();
      relay.audit.events.length = 0;
      const grown = heapAfterGc() - before;
      t.diagnostic(`heap change over 300 cycles: ${(grown / 1024).toFixed(0)} KiB`);
      // A leaked connection holds its ssh2 protocol state and channel buffers (tens of KiB);
      // 300 of them would be many MiB. Allow for allocator noise only.
      assert.ok(
        grown < 3 * 1024 * 1024,
        `heap grew ${(grown / 1024).toFixed(0)} KiB over 300 cycles`,
      );
      const s2 = relay.relay.stats();
      assert.deepEqual([s2.connections, s2.routes, s2.bridges, s2.unauthenticated], [0, 0, 0, 0]);
    }));
});
