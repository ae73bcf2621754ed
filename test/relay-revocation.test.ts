/**
 * Revocation takes effect on what a key already holds: removing a key from the policy file (or
 * its expiry-time passing, or its permitlisten narrowing) releases its names and closes what it
 * may no longer have, at once, while every still-permitted connection is left alone. Real OpenSSH
 * devices (`ssh -N -R`) and clients (`ssh -W`), the file rewritten as an operator would.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type KeyPair,
  type Proc,
  type Scope,
  type SshClient,
  waitFor,
  within,
  withScope,
  writeAuthorizedKeys,
} from './helpers/index.js';
import { relayClient, startTestRelay, type TestRelay } from './helpers/relay.js';
import { keys, line, tagServer } from './helpers/relay-fixtures.js';

/** `ssh -N -R name:22:<tag server> relay`, waiting until the relay registered it; its conn id. */
async function device(
  s: Scope,
  relay: TestRelay,
  key: KeyPair,
  name: string,
  tag = name,
): Promise<{ proc: Proc; conn: string }> {
  const port = await tagServer(s, tag);
  const client = await relayClient(s, relay, key);
  const before = relay.audit.events.length;
  const proc = client.spawn(['-N', '-R', `${name}:22:127.0.0.1:${port}`, 'relay'], {
    name: `device ${name} (${tag})`,
  });
  const reg = await waitFor(
    () => {
      if (proc.exit) throw new Error(`device ssh exited: ${proc.tail()}`);
      return relay.audit.events
        .slice(before)
        .find((e) => e.event === 'name.registered' && e.name === name && e.fp === key.fingerprint);
    },
    { what: `relay to register ${name} for ${key.fingerprint}` },
  );
  return { proc, conn: (reg as { conn: string }).conn };
}

/** What `ssh -W route relay` (empty stdin) prints, or its failure. */
async function reach(client: SshClient, route: string) {
  const r = await client.run(['-W', route, 'relay']);
  return r.code === 0 ? r.stdout : `exit ${r.code}: ${r.stderr.trim()}`;
}

/** Asserts `ssh -W route relay` fails and the relay audited it as `unknown-name`. */
async function assertGone(relay: TestRelay, client: SshClient, route: string): Promise<void> {
  const mark = relay.audit.events.length;
  assert.match(await reach(client, route), /^exit 255: /);
  const refused = relay.audit.events
    .slice(mark)
    .find((e) => e.event === 'connect.refused' && e.to === route);
  assert.equal((refused as { reason?: string } | undefined)?.reason, 'unknown-name');
}

describe('relay: revocation', () => {
  it('removing a device key from the file closes its connection, frees its name and ends its sessions', async (t) =>
    withScope(t, async (s) => {
      const [dev, dev2, repl, op] = await keys(s, 'dev', 'dev2', 'repl', 'op');
      const kept = [line(dev2!, 'permitlisten="dev2:22"'), line(op!, 'permitopen="*:22"')];
      const relay = await startTestRelay(s, {
        policy: [line(dev!, 'permitlisten="dev1:22"'), ...kept],
      });
      const old = await device(s, relay, dev!, 'dev1', 'old-device');
      const other = await device(s, relay, dev2!, 'dev2');
      const opClient = await relayClient(s, relay, op!);
      assert.equal(await reach(opClient, 'dev1:22'), 'old-device\n');
      // An operator session through the device, open while the key is removed.
      const session = opClient.spawn(['-W', 'dev1:22', 'relay'], { name: 'session to dev1' });
      await session.waitForLine(/^old-device$/);

      // Rewritten by rename, as editors save; the relay's watcher reloads it.
      await writeAuthorizedKeys(
        relay.policyPath,
        [...kept, line(repl!, 'permitlisten="dev1:22"')],
        {
          atomic: true,
        },
      );
      const closed = await relay.audit.wait(
        'conn.closed',
        (e) => e.conn === old.conn,
        2000 + 1000, // the watcher's debounce and one reload, with room
      );
      assert.equal(closed.reason, 'key-revoked');
      const released = relay.audit.all('name.released').filter((e) => e.conn === old.conn);
      assert.deepEqual(
        released.map((e) => [e.name, e.reason]),
        [['dev1', 'key-revoked']],
      );
      await within(old.proc.stopped(), 5000, 'the revoked device ssh to exit');
      await within(session.stopped(), 5000, 'the session through the revoked device to end');

      // The operator can no longer reach the revoked device...
      await assertGone(relay, opClient, 'dev1:22');
      // ... and the replacement key registers dev1 at once.
      await device(s, relay, repl!, 'dev1', 'new-device');
      assert.equal(await reach(opClient, 'dev1:22'), 'new-device\n');
      // The still-permitted device was not touched.
      assert.equal(other.proc.exit, undefined, other.proc.tail());
      assert.ok(!relay.audit.all('conn.closed').some((e) => e.conn === other.conn));
      assert.equal(await reach(opClient, 'dev2:22'), 'dev2\n');
    }));

  it('a key whose expiry-time passes is closed without a reload', async (t) =>
    withScope(t, async (s) => {
      const [dev, op] = await keys(s, 'dev', 'op');
      // Three whole seconds ahead, in the YYYYMMDDHHMMSSZ form.
      const expiresAt = Math.floor(Date.now() / 1000) * 1000 + 3000;
      const stamp = new Date(expiresAt).toISOString().replace(/[-:T]/g, '').slice(0, 14);
      const relay = await startTestRelay(s, {
        policy: [
          line(dev!, `expiry-time="${stamp}Z"`, 'permitlisten="dev1:22"'),
          line(op!, 'permitopen="*:22"'),
        ],
      });
      const held = await device(s, relay, dev!, 'dev1');
      const opClient = await relayClient(s, relay, op!);
      assert.equal(await reach(opClient, 'dev1:22'), 'dev1\n');
      const loads = relay.audit.all('policy.loaded').length;

      const closed = await relay.audit.wait('conn.closed', (e) => e.conn === held.conn, 8000);
      assert.equal(closed.reason, 'key-expired');
      // sshd refuses the key once the clock passes the second named, not before.
      assert.ok(Date.now() >= expiresAt + 1000, 'closed before the expiry second had passed');
      assert.equal(relay.audit.all('policy.loaded').length, loads, 'no reload was needed');
      assert.ok(
        relay.audit.all('name.released').some((e) => e.conn === held.conn && e.name === 'dev1'),
      );
      await within(held.proc.stopped(), 5000, 'the expired device ssh to exit');
      await assertGone(relay, opClient, 'dev1:22');
    }));

  it('narrowing permitlisten releases only the names no longer permitted; the connection stays', async (t) =>
    withScope(t, async (s) => {
      const [dev, other, op] = await keys(s, 'dev', 'other', 'op');
      const opLine = line(op!, 'permitopen="*:22"');
      const relay = await startTestRelay(s, {
        policy: [line(dev!, 'permitlisten="dev1:22"', 'permitlisten="dev3:22"'), opLine],
      });
      const one = await device(s, relay, dev!, 'dev1');
      const three = await device(s, relay, dev!, 'dev3');
      const opClient = await relayClient(s, relay, op!);
      const session = opClient.spawn(['-W', 'dev1:22', 'relay'], { name: 'session to dev1' });
      await session.waitForLine(/^dev1$/);

      await relay.setPolicy([
        line(dev!, 'permitlisten="dev3:22"'),
        line(other!, 'permitlisten="dev1:22"'),
        opLine,
      ]);
      const released = await relay.audit.wait('name.released', (e) => e.conn === one.conn, 2000);
      assert.deepEqual([released.name, released.reason], ['dev1', 'not-permitted']);
      await within(session.stopped(), 5000, 'the session to the released name to end');
      await assertGone(relay, opClient, 'dev1:22');
      // Another key permitted dev1 takes it at once; the device keeps what it still may hold.
      await device(s, relay, other!, 'dev1', 'other-device');
      assert.equal(await reach(opClient, 'dev1:22'), 'other-device\n');
      assert.equal(await reach(opClient, 'dev3:22'), 'dev3\n');
      for (const d of [one, three]) {
        assert.equal(d.proc.exit, undefined, d.proc.tail());
        assert.ok(!relay.audit.all('conn.closed').some((e) => e.conn === d.conn));
      }
    }));
});
