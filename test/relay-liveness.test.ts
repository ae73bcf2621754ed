/**
 * Liveness and limits: keepalive drops silent peers, login grace time, max auth tries, caps on
 * unauthenticated connections, TCP keepalive, and the identification string.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { generateKey, type Scope, startSshd, tmpDir, waitFor, withScope } from './helpers/index.js';
import { forwardTo, registerDevice, relayClient, startTestRelay } from './helpers/relay.js';

/** A raw TCP connection to the relay that the test controls byte by byte. */
interface RawSocket {
  readonly sock: Socket;
  /** Resolves with the connection's lifetime in ms once it is closed. */
  readonly closed: Promise<number>;
  /** Everything received so far (the socket is always read, so a peer close is noticed). */
  received(): string;
}

async function rawSocket(scope: Scope, port: number, localAddress?: string): Promise<RawSocket> {
  const sock = connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) });
  sock.on('error', () => {});
  let data = '';
  sock.on('data', (d: Buffer) => {
    data += d.toString('latin1');
  });
  scope.defer(() => void sock.destroy(), 'raw socket');
  const opened = Date.now();
  const closed = new Promise<number>((r) => sock.once('close', () => r(Date.now() - opened)));
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('close', () => reject(new Error('closed before connecting')));
  });
  return { sock, closed, received: () => data };
}

function firstLine(raw: RawSocket): Promise<string> {
  return waitFor(
    () => {
      const text = raw.received();
      const i = text.indexOf('\n');
      return i >= 0 ? text.slice(0, i + 1) : undefined;
    },
    { what: 'the identification line' },
  );
}

describe('relay: liveness and limits', () => {
  it('identifies as SSH-2.0-burrow and sets TCP keepalive on its sockets', async (t) =>
    withScope(t, async (s) => {
      const relay = await startTestRelay(s, { policy: [] });
      const raw = await rawSocket(s, relay.port);
      assert.equal(await firstLine(raw), 'SSH-2.0-burrow\r\n');
      // `ss -o` shows a keepalive timer on the relay's side of the connection.
      const ss = execFileSync(
        'ss',
        ['-tno', 'state', 'established', `( sport = :${relay.port} )`],
        {
          encoding: 'utf8',
        },
      );
      assert.match(ss, /timer:\(keepalive/, ss);
    }));

  it('drops a device that stops answering (SIGSTOP) within the keepalive bound', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      const devKey = await generateKey(dir, 'device');
      const sshd = await startSshd(s);
      const relay = await startTestRelay(s, {
        policy: [`permitlisten="dev1:22" ${devKey.publicKey}`],
        config: { keepaliveIntervalMs: 400, keepaliveCountMax: 2 },
      });
      const device = await relayClient(s, relay, devKey);
      const proc = await registerDevice(
        device,
        relay,
        [forwardTo('dev1', 22, sshd)],
        'dev1',
        devKey.fingerprint,
      );
      const frozenAt = Date.now();
      proc.signal('SIGSTOP');
      s.defer(() => proc.signal('SIGCONT'), 'resume device');
      const closed = await relay.audit.wait(
        'conn.closed',
        (e) => e.fp === devKey.fingerprint,
        10_000,
      );
      const took = Date.now() - frozenAt;
      assert.equal(closed.reason, 'keepalive-timeout');
      // 400 ms × (2 misses + the probe in flight) ≈ 1.2 s; allow generous slack for a loaded box.
      assert.ok(took < 5000, `dropped after ${took} ms`);
      const released = relay.audit.all('name.released').find((e) => e.name === 'dev1');
      assert.equal(released?.reason, 'keepalive-timeout');
      assert.equal(relay.relay.stats().routes, 0);
    }));

  it('closes a connection that does not authenticate within the login grace time', async (t) =>
    withScope(t, async (s) => {
      const relay = await startTestRelay(s, { policy: [], config: { loginGraceMs: 500 } });
      const silent = await rawSocket(s, relay.port);
      const halfway = await rawSocket(s, relay.port);
      halfway.sock.write('SSH-2.0-OpenSSH_9.9\r\n');
      for (const c of [silent, halfway]) {
        const ms = await c.closed;
        assert.ok(ms >= 400 && ms < 5000, `closed after ${ms} ms`);
      }
      await waitFor(() => relay.relay.stats().unauthenticated === 0, { what: 'slots released' });
      // One line for the source, and both counted in the summary.
      assert.equal(
        relay.audit.all('conn.refused').filter((e) => e.reason === 'login-grace-time').length,
        1,
      );
      await relay.relay.close();
      const summary = relay.audit.all('conn.refused.summary');
      assert.deepEqual(
        summary.map((e) => e.by_reason),
        [{ 'login-grace-time': 2 }],
      );
    }));

  it('audits sockets that close without trying to log in as one line per source, not one each', async (t) =>
    withScope(t, async (s) => {
      const relay = await startTestRelay(s, { policy: [] });
      for (let i = 0; i < 20; i++) {
        const probe = await rawSocket(s, relay.port);
        await firstLine(probe);
        probe.sock.destroy();
        await probe.closed;
      }
      await waitFor(() => relay.relay.stats().unauthenticated === 0, { what: 'slots released' });
      await relay.relay.close();
      assert.equal(relay.audit.all('conn.closed').length, 0, 'no conn.closed per probe');
      assert.equal(
        relay.audit.all('conn.refused').filter((e) => e.reason === 'closed-before-auth').length,
        1,
      );
      const counted = relay.audit
        .all('conn.refused.summary')
        .reduce(
          (n, e) => n + ((e.by_reason as Record<string, number>)['closed-before-auth'] ?? 0),
          0,
        );
      assert.equal(counted, 20);
    }));

  it('disconnects after max auth tries', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      const keys = await Promise.all([1, 2, 3, 4].map((i) => generateKey(dir, `stranger${i}`)));
      const relay = await startTestRelay(s, { policy: [], config: { maxAuthTries: 2 } });
      const client = await relayClient(s, relay, keys[0]!);
      client.addHost({ alias: 'relay-many', port: relay.port, user: 'x', identity: keys.slice(1) });
      client.trust(`[127.0.0.1]:${relay.port}`, relay.hostKeyPub);
      const r = await client.run(['relay-many', 'true']);
      assert.equal(r.code, 255);
      const refused = relay.audit.all('auth.refused');
      assert.equal(refused.length, 2, relay.audit.dump());
      assert.ok(refused.every((e) => e.reason === 'unknown-key'));
      const closed = await relay.audit.wait('conn.closed');
      assert.equal(closed.reason, 'max-auth-tries');
    }));

  it('caps unauthenticated connections per source and in total', async (t) =>
    withScope(t, async (s) => {
      const relay = await startTestRelay(s, {
        policy: [],
        config: {
          maxStartupsPerSource: 3,
          maxStartups: { start: 5, rate: 30, full: 5 },
          loginGraceMs: 10_000,
        },
      });
      const held: RawSocket[] = [];
      for (let i = 0; i < 3; i++) held.push(await rawSocket(s, relay.port));
      await waitFor(() => relay.relay.stats().unauthenticated === 3, { what: '3 pending' });
      const fourth = await rawSocket(s, relay.port);
      const ms = await fourth.closed;
      assert.ok(ms < 2000, `refused after ${ms} ms`);
      assert.ok(relay.audit.all('conn.refused').some((e) => e.reason === 'max-per-source'));

      // Another source address (127.0.0.2 is loopback too) fills the total cap.
      for (let i = 0; i < 2; i++) await rawSocket(s, relay.port, '127.0.0.2');
      await waitFor(() => relay.relay.stats().unauthenticated === 5, { what: '5 pending' });
      // At the total cap a source holding two is refused...
      const sixth = await rawSocket(s, relay.port, '127.0.0.2');
      assert.ok((await sixth.closed) < 2000);
      assert.ok(relay.audit.all('conn.refused').some((e) => e.reason === 'max-startups'));
      // ...but a source holding none gets in: the oldest of the heaviest source's makes room.
      const newcomer = await rawSocket(s, relay.port, '127.0.0.3');
      assert.equal(await firstLine(newcomer), 'SSH-2.0-burrow\r\n');
      await waitFor(() => held[0]!.sock.destroyed || undefined, {
        what: 'the oldest of 127.0.0.1 evicted',
      });
      held.shift();
      await waitFor(() => relay.relay.stats().unauthenticated === 5, { what: '5 pending' });

      // Freed slots are usable again.
      for (const h of held) h.sock.destroy();
      await waitFor(() => relay.relay.stats().unauthenticated === 3, { what: 'slots freed' });
      const again = await rawSocket(s, relay.port);
      assert.equal(await firstLine(again), 'SSH-2.0-burrow\r\n');
    }));
});
