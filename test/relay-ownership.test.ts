/**
 * Names are owned: another key cannot take a held name, the same key takes it over at once (no
 * waiting for keepalive on a half-open connection), and a stale connection closing afterwards
 * leaves its successor alone. Devices are real `ssh -N -R` processes in front of two real sshds
 * with different host keys, so a client that trusts only one of them proves where traffic went.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  authorizedKeyLine,
  generateKey,
  type KeyPair,
  type Scope,
  type Sshd,
  startSshd,
  tmpDir,
  within,
  withScope,
} from './helpers/index.js';
import {
  forwardTo,
  registerDevice,
  relayClient,
  startTestRelay,
  type TestRelay,
} from './helpers/relay.js';

async function setup(s: Scope) {
  const dir = await tmpDir(s);
  const [devA, devB, op] = await Promise.all(
    ['device-a', 'device-b', 'operator'].map((n) => generateKey(dir, n)),
  );
  const [sshdA, sshdB] = await Promise.all(
    ['sshd-a', 'sshd-b'].map((name) => startSshd(s, { name, authorizedKeys: [op!] })),
  );
  const relay = await startTestRelay(s, {
    policy: [
      authorizedKeyLine({ key: devA!, options: ['permitlisten="dev1:*"'] }),
      authorizedKeyLine({ key: devB!, options: ['permitlisten="dev1:*"'] }),
      authorizedKeyLine({ key: op!, options: ['permitopen="dev1:22"'] }),
    ],
  });
  /** An operator client that trusts only `sshd`'s host key for dev1. */
  const trusting = (sshd: Sshd) =>
    relayClient(s, relay, op!, [{ name: 'dev1', hostKeyPub: sshd.hostKeyPub }]);
  return { devA: devA!, devB: devB!, op: op!, sshdA: sshdA!, sshdB: sshdB!, relay, trusting };
}

/** Registrations of dev1:22 in audit order. */
const dev1Registrations = (relay: TestRelay) =>
  relay.audit.all('name.registered').filter((e) => e.name === 'dev1' && e.port === 22);

/**
 * Registers dev1 from `key` (forwarding to `sshd`), then freezes that ssh with SIGSTOP: a
 * half-open connection whose process and TCP peer stop answering. Returns the device's ssh
 * client, the frozen process and the relay connection id that held the name.
 */
async function registerThenFreeze(s: Scope, relay: TestRelay, key: KeyPair, sshd: Sshd) {
  const device = await relayClient(s, relay, key);
  const first = await registerDevice(
    device,
    relay,
    [forwardTo('dev1', 22, sshd)],
    'dev1',
    key.fingerprint,
  );
  const oldConn = dev1Registrations(relay)[0]!.conn;
  first.signal('SIGSTOP');
  s.defer(() => first.signal('SIGCONT'), 'resume the frozen ssh');
  return { device, first, oldConn };
}

describe('relay: name ownership', () => {
  it('another key cannot take a held name, on any port of it', async (t) =>
    withScope(t, async (s) => {
      const { devA, devB, sshdA, sshdB, relay, trusting } = await setup(s);
      const a = await registerDevice(
        await relayClient(s, relay, devA),
        relay,
        [forwardTo('dev1', 22, sshdA)],
        'dev1',
        devA.fingerprint,
      );
      const b = await relayClient(s, relay, devB);
      const attempts = [
        forwardTo('dev1', 22, sshdB),
        forwardTo('dev1', 2222, sshdB),
        `/run/anything/dev1.sock:127.0.0.1:${sshdB.port}`,
      ];
      for (const forward of attempts) {
        const proc = b.spawn(['-N', '-R', forward, 'relay'], { name: `device B ${forward}` });
        const exit = await within(proc.stopped(), 10_000, `ssh -R ${forward} to exit`);
        assert.equal(exit.code, 255, `${forward}: ${proc.tail()}`);
        assert.match(proc.output(), /remote port forwarding failed/);
      }
      const refused = relay.audit.all('name.refused');
      assert.deepEqual(
        refused.map((e) => [e.fp, e.request, e.reason, e.held_by]),
        [
          [devB.fingerprint, 'dev1:22', 'name-held', devA.fingerprint],
          [devB.fingerprint, 'dev1:2222', 'name-held', devA.fingerprint],
          [devB.fingerprint, '/run/anything/dev1.sock', 'name-held', devA.fingerprint],
        ],
      );
      assert.equal(dev1Registrations(relay).length, 1);
      assert.equal(relay.audit.all('name.taken_over').length, 0);
      assert.equal(a.exit, undefined, a.tail());

      // Clients still reach the first device: sshd A answers, sshd B is not reached.
      const viaA = await (await trusting(sshdA)).run(['dev1', 'echo', 'still-a']);
      assert.equal(viaA.stdout.trim(), 'still-a', viaA.stderr);
      const viaB = await (await trusting(sshdB)).run(['dev1', 'echo', 'is-b']);
      assert.equal(viaB.code, 255);
      assert.match(viaB.stderr, /host key|Host key verification failed/i);
    }));

  it('the same key re-registering takes the name over at once and closes the old connection', async (t) =>
    withScope(t, async (s) => {
      const { devA, sshdA, sshdB, relay, trusting } = await setup(s);
      const { device, first, oldConn } = await registerThenFreeze(s, relay, devA, sshdA);

      const started = Date.now();
      await registerDevice(device, relay, [forwardTo('dev1', 22, sshdB)], 'dev1', devA.fingerprint);
      const tookMs = Date.now() - started;
      // Keepalive would need 3 × 5 s to notice the frozen connection; a takeover needs none.
      assert.ok(tookMs < 5000, `registration took ${tookMs} ms`);
      const newConn = dev1Registrations(relay)[1]!.conn;
      assert.notEqual(newConn, oldConn);

      const takeover = await relay.audit.wait('name.taken_over');
      assert.deepEqual(
        [takeover.conn, takeover.previous, takeover.fp, takeover.name, takeover.port],
        [newConn, oldConn, devA.fingerprint, 'dev1', 22],
      );
      const closed = await relay.audit.wait('conn.closed', (e) => e.conn === oldConn);
      assert.equal(closed.reason, 'taken-over');
      assert.equal(relay.audit.all('name.released').length, 0);

      // Traffic goes to the new connection (sshd B) at once.
      const viaB = await (await trusting(sshdB)).run(['dev1', 'echo', 'via-b']);
      assert.equal(viaB.stdout.trim(), 'via-b', viaB.stderr);
      const bridged = await relay.audit.wait('connect.closed', (e) => e.to === 'dev1:22');
      assert.equal(bridged.device_conn, newConn);
      const viaA = await (await trusting(sshdA)).run(['dev1', 'echo', 'via-a']);
      assert.equal(viaA.code, 255, 'a client trusting only sshd A must not get through');

      // The relay really closed the old socket: woken up, the old ssh finds it gone.
      first.signal('SIGCONT');
      const exit = await within(first.stopped(), 10_000, 'the old device ssh to exit');
      assert.notEqual(exit.code, 0, first.tail());
    }));

  it("a stale connection closing after a takeover does not remove its successor's name", async (t) =>
    withScope(t, async (s) => {
      const { devA, sshdA, sshdB, relay, trusting } = await setup(s);
      const { device, first, oldConn } = await registerThenFreeze(s, relay, devA, sshdA);
      const second = await registerDevice(
        device,
        relay,
        [forwardTo('dev1', 22, sshdB)],
        'dev1',
        devA.fingerprint,
      );
      await relay.audit.wait('conn.closed', (e) => e.conn === oldConn);

      await first.kill9();
      // The point is that nothing happens: give a late close a moment to do damage.
      await sleep(500);
      assert.equal(relay.audit.all('name.released').length, 0, relay.audit.dump());
      assert.equal(relay.audit.all('conn.closed').filter((e) => e.conn === oldConn).length, 1);
      assert.equal(relay.relay.stats().routes, 1);
      const viaB = await (await trusting(sshdB)).run(['dev1', 'echo', 'still-b']);
      assert.equal(viaB.stdout.trim(), 'still-b', viaB.stderr);
      assert.equal(second.exit, undefined, second.tail());
    }));

  it('when the owner disconnects the name is free for another permitted key', async (t) =>
    withScope(t, async (s) => {
      const { devA, devB, sshdA, sshdB, relay, trusting } = await setup(s);
      const a = await registerDevice(
        await relayClient(s, relay, devA),
        relay,
        [forwardTo('dev1', 22, sshdA)],
        'dev1',
        devA.fingerprint,
      );
      const oldConn = dev1Registrations(relay)[0]!.conn;
      const b = await relayClient(s, relay, devB);
      const early = b.spawn(['-N', '-R', forwardTo('dev1', 22, sshdB), 'relay'], {
        name: 'device B (early)',
      });
      const earlyExit = await within(early.stopped(), 10_000, 'the early ssh -R to exit');
      assert.equal(earlyExit.code, 255, 'the name is still held');

      await a.kill9();
      const released = await relay.audit.wait('name.released', (e) => e.conn === oldConn);
      assert.deepEqual([released.name, released.port], ['dev1', 22]);

      await registerDevice(b, relay, [forwardTo('dev1', 22, sshdB)], 'dev1', devB.fingerprint);
      assert.equal(relay.audit.all('name.taken_over').length, 0);
      const viaB = await (await trusting(sshdB)).run(['dev1', 'echo', 'now-b']);
      assert.equal(viaB.stdout.trim(), 'now-b', viaB.stderr);
    }));
});
