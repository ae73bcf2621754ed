/**
 * An agent that keeps losing its relay must not leak: hundreds of cycles of register → a client
 * round-trips data through the device → the connection is reset under the agent, with the heap
 * measured after forced garbage collections. The agent runs in-process (for the heap) against a
 * relay behind an in-test TCP proxy; an ssh2 client stands in for the operator, since real ssh
 * processes would make hundreds of cycles slow (the other agent tests use OpenSSH).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { startAgent } from '../src/agent/index.js';
import ssh2 from '../src/ssh/ssh2.js';
import { heapAfterGc, startKeyedRelay } from './helpers/heap.js';
import { startProxy, waitFor, withScope } from './helpers/index.js';

describe('agent: memory', () => {
  it('does not grow across hundreds of lost relay connections', async (t) =>
    withScope(t, async (s) => {
      const { relay, devKey, opKey } = await startKeyedRelay(s);
      const proxy = await startProxy(s, relay.port);
      // The device's "sshd": an echo server.
      const echo = createServer((sock) => {
        sock.on('error', () => {});
        sock.pipe(sock);
      });
      await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
      s.defer(() => new Promise<void>((r) => echo.close(() => r())), 'echo server');
      const echoPort = (echo.address() as { port: number }).port;

      let registrations = 0;
      const agent = startAgent(
        {
          relays: [{ id: `127.0.0.1:${proxy.port}`, host: '127.0.0.1', port: proxy.port }],
          forwards: [{ name: 'dev1', port: 22, targetHost: '127.0.0.1', targetPort: echoPort }],
          privateKey: devKey,
          username: 'dev1',
          keepaliveIntervalMs: 5000,
          keepaliveCountMax: 2,
          connectTimeoutMs: 5000,
          backoff: { baseMs: 10, capMs: 50 },
          leaveTimeoutMs: 1000,
          dialTimeoutMs: 5000,
        },
        {
          log: pino({ level: 'silent' }),
          verifyHostKey: (_r, blob) => ({
            ok: blob.toString('base64') === relay.hostKeyPub.split(' ')[1],
          }),
          onState: (snap) => {
            if (snap.phase === 'connected') registrations = snap.reconnects + 1;
          },
          onExit: (code, message) => {
            if (code !== 0) assert.fail(`agent exited ${code}: ${message}`);
          },
        },
      );
      s.defer(() => agent.close(), 'agent');

      const client = await new Promise<ssh2.Client>((resolve, reject) => {
        const c = new ssh2.Client();
        c.once('ready', () => resolve(c));
        c.once('error', reject);
        c.connect({ host: '127.0.0.1', port: relay.port, username: 'op', privateKey: opKey });
      });
      s.defer(() => void client.end(), 'operator');
      client.on('error', () => {});

      const payload = Buffer.alloc(16 * 1024, 7);
      const cycle = async (i: number) => {
        await waitFor(() => registrations === i + 1, { what: `registration ${i + 1}` });
        const ch = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
          client.forwardOut('127.0.0.1', 1, 'dev1', 22, (err, c) =>
            err ? reject(err) : resolve(c),
          ),
        );
        let got = 0;
        await new Promise<void>((resolve) => {
          ch.on('data', (d: Buffer) => {
            got += d.length;
            if (got >= payload.length) resolve();
          });
          ch.write(payload);
        });
        // The relay connection vanishes mid-channel: a TCP reset under the agent.
        proxy.cutAll();
      };

      let i = 0;
      for (; i < 60; i++) await cycle(i);
      await waitFor(() => registrations === i + 1, { what: 'registered again' });
      relay.audit.events.length = 0;
      const before = heapAfterGc();
      for (; i < 360; i++) await cycle(i);
      await waitFor(() => registrations === i + 1, { what: 'registered again' });
      relay.audit.events.length = 0;
      const grown = heapAfterGc() - before;
      t.diagnostic(`heap change over 300 cycles: ${(grown / 1024).toFixed(0)} KiB`);
      // A leaked link holds an ssh2 client, its socket and buffers (tens of KiB): 300 of them
      // would be many MiB. Allow for allocator noise only.
      assert.ok(grown < 3 * 1024 * 1024, `heap grew ${(grown / 1024).toFixed(0)} KiB`);
      assert.equal(agent.status().phase, 'connected');
    }));
});
