/**
 * Hostile and broken peers: garbage on the wire, channel floods, devices that vanish mid-stream
 * (kill -9, RST). The relay must refuse cleanly, keep serving others, and leak nothing.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { describe, it } from 'node:test';
import { REFUSAL_BUDGET } from '../src/audit/limits.js';
import ssh2 from '../src/ssh/ssh2.js';
import { type KeyPair, type Scope, startProxy, waitFor, withScope } from './helpers/index.js';
import { forwardTo, startWorld, type TestRelay } from './helpers/relay.js';

async function echoPort(scope: Scope): Promise<number> {
  const server = createServer((sock) => {
    sock.on('error', () => {});
    sock.pipe(sock);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  scope.defer(() => new Promise<void>((r) => server.close(() => r())), 'echo server');
  return (server.address() as { port: number }).port;
}

/** An ssh2 client logged in to the relay, for opening channels faster than OpenSSH would. */
async function ssh2Client(scope: Scope, relay: TestRelay, key: KeyPair): Promise<ssh2.Client> {
  const client = new ssh2.Client();
  scope.defer(() => void client.destroy(), 'ssh2 client');
  const privateKey = await readFile(key.path, 'utf8');
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
    client.connect({ host: '127.0.0.1', port: relay.port, username: 'x', privateKey });
  });
  client.on('error', () => {});
  return client;
}

function openChannel(
  client: ssh2.Client,
  host: string,
  port: number,
): Promise<ssh2.ClientChannel | Error> {
  return new Promise((resolve) => {
    client.forwardOut('127.0.0.1', 1, host, port, (err, ch) => resolve(err ?? ch));
  });
}

/** Sends raw bytes to the relay and resolves when it closes the connection (ms taken). */
function sendRaw(port: number, data: Buffer | string): Promise<number> {
  return new Promise((resolve) => {
    const started = Date.now();
    const sock = connect(port, '127.0.0.1', () => sock.write(data));
    sock.on('error', () => {});
    sock.resume();
    sock.on('close', () => resolve(Date.now() - started));
  });
}

function setup(s: Scope, config = {}) {
  return startWorld(s, {
    policy: (dev, op) => [`permitlisten="dev1:*" ${dev}`, `permitopen="*:*" ${op}`],
    config,
  });
}

describe('relay: hostile input and vanishing peers', () => {
  it('closes on garbage before or after the version line and keeps serving', async (t) =>
    withScope(t, async (s) => {
      const { sshd, relay, register } = await setup(s);
      const http = await sendRaw(relay.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      const binary = await sendRaw(relay.port, randomBytes(4096));
      const afterIdent = await sendRaw(
        relay.port,
        Buffer.concat([Buffer.from('SSH-2.0-evil\r\n'), randomBytes(64 * 1024)]),
      );
      const longLine = await sendRaw(relay.port, `SSH-2.0-${'A'.repeat(100_000)}`);
      for (const ms of [http, binary, afterIdent, longLine]) assert.ok(ms < 5000, `took ${ms} ms`);
      await waitFor(() => relay.relay.stats().unauthenticated === 0, { what: 'slots released' });
      await register([forwardTo('dev1', 22, sshd)], 'dev1');
      assert.equal(relay.relay.stats().routes, 1);
    }));

  it('survives thousands of channel opens and leaks none', async (t) =>
    withScope(t, async (s) => {
      const { opKey, relay, register } = await setup(s, { maxChannels: 64 });
      const echo = await echoPort(s);
      await register([`dev1:7000:127.0.0.1:${echo}`], 'dev1');
      const client = await ssh2Client(s, relay, opKey);

      // 2000 opens to names that do not exist, 50 at a time.
      let refused = 0;
      for (let i = 0; i < 40; i++) {
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, j) => openChannel(client, `ghost${i}-${j}`, 22)),
        );
        refused += results.filter((r) => r instanceof Error).length;
      }
      assert.equal(refused, 2000);

      // 1000 real round trips through the device, 50 at a time.
      for (let i = 0; i < 20; i++) {
        await Promise.all(
          Array.from({ length: 50 }, async () => {
            const ch = await openChannel(client, 'dev1', 7000);
            assert.ok(!(ch instanceof Error), String(ch));
            const reply = new Promise<string>((resolve) =>
              ch.once('data', (d: Buffer) => resolve(String(d))),
            );
            ch.write('ping');
            assert.equal(await reply, 'ping');
            ch.close();
          }),
        );
        // Closing is a round trip; the next batch starts once this one is fully released.
        await waitFor(() => relay.relay.stats().bridges === 0, { what: 'batch released' });
      }
      await waitFor(() => relay.audit.all('connect.closed').length === 1000, {
        what: '1000 audits',
      });

      // Over the per-connection cap, opens are refused, and the cap frees up again.
      const held = await Promise.all(
        Array.from({ length: 80 }, () => openChannel(client, 'dev1', 7000)),
      );
      const ok = held.filter((h): h is ssh2.ClientChannel => !(h instanceof Error));
      assert.equal(ok.length, 64);
      assert.equal(held.length - ok.length, 16);
      for (const ch of ok) ch.close();
      await waitFor(() => relay.relay.stats().bridges === 0, { what: 'held channels closed' });
      const again = await openChannel(client, 'dev1', 7000);
      assert.ok(!(again instanceof Error));
      again.close();
      assert.equal(relay.relay.stats().connections, 2);

      // The 2016 refusals were audited within the connection's budget, the rest counted.
      const conn = relay.audit.all('connect.closed')[0]!.conn;
      client.end();
      await relay.audit.wait('conn.closed', (e) => e.conn === conn);
      const written = relay.audit.all('connect.refused').filter((e) => e.conn === conn).length;
      const counted = relay.audit.all('audit.suppressed').filter((e) => e.conn === conn);
      assert.equal(written + (counted[0]?.count ?? 0), 2016);
      assert.ok(written <= REFUSAL_BUDGET, `${written} refusals written one by one`);
    }));

  it('caps concurrent session channels per connection', async (t) =>
    withScope(t, async (s) => {
      const { opKey, sshd, relay, register } = await setup(s);
      await register([forwardTo('dev1', 22, sshd)], 'dev1');
      const client = await ssh2Client(s, relay, opKey);
      const execNc = () =>
        new Promise<ssh2.ClientChannel | Error>((resolve) => {
          client.exec('nc -U /x/dev1.sock', (err, ch) => resolve(err ?? ch));
        });
      const held = await Promise.all(Array.from({ length: 14 }, execNc));
      const open = held.filter((h): h is ssh2.ClientChannel => !(h instanceof Error));
      assert.equal(open.length, 10);
      assert.equal(
        relay.audit.all('request.refused').filter((e) => e.request === 'session').length,
        4,
      );
      for (const ch of open) ch.close();
      await waitFor(() => relay.relay.stats().bridges === 0, { what: 'sessions closed' });
      const again = await execNc();
      assert.ok(!(again instanceof Error), String(again));
      again.close();
    }));

  it('releases everything when a device is killed mid-transfer', async (t) =>
    withScope(t, async (s) => {
      const { sshd, relay, register, op } = await setup(s);
      const proc = await register([forwardTo('dev1', 22, sshd)], 'dev1');
      // An endless download that only ends when the path breaks.
      const transfer = op.spawn(['dev1', 'cat', '/dev/zero'], { name: 'download' });
      await waitFor(() => relay.relay.stats().bridges === 1, { what: 'the transfer to start' });
      await proc.kill9();
      const exit = await transfer.stopped();
      assert.notEqual(exit.code, 0);
      await waitFor(() => relay.relay.stats().bridges === 0, { what: 'bridge released' });
      await waitFor(() => relay.relay.stats().routes === 0, { what: 'route released' });
      await waitFor(() => relay.relay.stats().connections === 0, { what: 'connections gone' });
      const released = relay.audit.all('name.released');
      assert.equal(released.length, 1);
    }));

  it('releases everything when the device connection is reset (RST) mid-transfer', async (t) =>
    withScope(t, async (s) => {
      const { devKey, sshd, relay, device, op } = await setup(s);
      const proxy = await startProxy(s, relay.port);
      device.addHost({
        alias: 'relay-via-proxy',
        port: proxy.port,
        user: 'burrow',
        hostKeyAlias: 'relay',
      });
      device.trust('relay', relay.hostKeyPub);
      const before = relay.audit.all('name.registered').length;
      device.spawn(['-N', '-R', forwardTo('dev1', 22, sshd), 'relay-via-proxy'], {
        name: 'device',
      });
      await waitFor(() => relay.audit.all('name.registered').length > before, {
        what: 'registration',
      });
      const transfer = op.spawn(['dev1', 'cat', '/dev/zero'], { name: 'download' });
      await waitFor(() => relay.relay.stats().bridges === 1 && proxy.bytesUp > 1_000_000, {
        what: 'the transfer to be under way',
      });
      proxy.cutAll();
      await transfer.stopped();
      await waitFor(() => relay.relay.stats().routes === 0, {
        what: 'route released',
        timeoutMs: 5000,
      });
      await waitFor(() => relay.relay.stats().bridges === 0, { what: 'bridge released' });
      const closed = relay.audit.all('conn.closed').find((e) => e.fp === devKey.fingerprint);
      assert.ok(closed, relay.audit.dump());
    }));
});
