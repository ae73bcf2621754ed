/**
 * What an operator is told when the relay will not connect them: every refusal carries an RFC 4254
 * reason code and a `burrow: …` description that real OpenSSH prints
 * (`channel 0: open failed: <code>: burrow: …`), and `nc -U` writes the same text to stderr.
 * These texts reach ssh only through the ssh2 patch (patches/ssh2+1.17.0.patch): without it every
 * description is empty and each assertion here on a `burrow:` text fails.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import type { RelayConfig } from '../src/relay/index.js';
import ssh2 from '../src/ssh/ssh2.js';
import {
  createSshClient,
  freePort,
  type Scope,
  type SshClient,
  waitFor,
  withScope,
} from './helpers/index.js';
import { type AuditEventOf, forwardTo, startWorld, type World } from './helpers/relay.js';

/**
 * A relay with dev1 registered (to the device's sshd); the device may register dev1, dev3 and
 * dev9, the operator may reach dev1:22, dev2:22 and dev3:* only. `info` is the operator's ssh at
 * LogLevel INFO, OpenSSH's default, at which it prints `open failed` (the usual test clients run
 * at ERROR); its hosts are `relay` and `dev2` behind it.
 */
async function setup(s: Scope, config: Partial<RelayConfig> = {}) {
  const world = await startWorld(s, {
    policy: (dev, op) => [
      `permitlisten="dev1:22",permitlisten="dev3:22",permitlisten="dev9:22" ${dev}`,
      `permitopen="dev1:22",permitopen="dev2:22",permitopen="dev3:*" ${op}`,
    ],
    config,
  });
  await world.register([forwardTo('dev1', 22, world.sshd)]);
  const info = await createSshClient(s, { identity: world.opKey, logLevel: 'INFO' });
  info.addHost({
    alias: 'relay',
    port: world.relay.port,
    user: 'burrow',
    hostKey: world.relay.hostKeyPub,
  });
  info.addHost({ alias: 'dev2', hostName: null, user: 'root', proxyJump: 'relay' });
  return { world, info };
}

/** `ssh -W dest relay`; returns ssh's stderr after checking it failed. */
async function refusedW(client: SshClient, dest: string): Promise<string> {
  const r = await client.run(['-W', dest, 'relay'], { input: '' });
  assert.equal(r.code, 255, `${dest}: ${r.stdout}${r.stderr}`);
  return r.stderr;
}

function lastRefusal(world: World): AuditEventOf<'connect.refused'> | undefined {
  return world.relay.audit.all('connect.refused').at(-1);
}

describe('relay: refusal texts seen by OpenSSH', () => {
  it('a name that is not connected: connect failed, named', async (t) =>
    withScope(t, async (s) => {
      const { world, info } = await setup(s);
      const stderr = await refusedW(info, 'dev2:22');
      assert.match(
        stderr,
        /channel 0: open failed: connect failed: burrow: dev2:22 is not connected to this relay/,
      );
      assert.equal(lastRefusal(world)?.reason, 'unknown-name');
      // The same text through `ssh -J`, which opens its channel the same way.
      const jump = await info.run(['-J', 'relay', 'dev2', 'true']);
      assert.equal(jump.code, 255);
      assert.match(jump.stderr, /open failed: connect failed: burrow: dev2:22 is not connected/);
      // And through `nc -U`, on the session's stderr.
      const nc = await info.run(['relay', 'nc', '-U', '/x/dev2.sock'], { input: '' });
      assert.equal(nc.code, 1);
      assert.equal(nc.stderr.trim(), 'burrow: dev2:22 is not connected to this relay');
    }));

  it('a name the key may not reach: the same words whether or not it is registered', async (t) =>
    withScope(t, async (s) => {
      const { world, info } = await setup(s);
      const absent = await refusedW(info, 'dev9:22');
      assert.match(
        absent,
        /channel 0: open failed: administratively prohibited: burrow: not permitted to reach dev9:22/,
      );
      assert.equal(lastRefusal(world)?.reason, 'not-permitted');
      const ncAbsent = await info.run(['relay', 'nc', '-U', '/x/dev9.sock'], { input: '' });

      await world.register([forwardTo('dev9', 22, world.sshd)], 'dev9');
      const present = await refusedW(info, 'dev9:22');
      assert.equal(present, absent);
      assert.equal(lastRefusal(world)?.reason, 'not-permitted');
      const ncPresent = await info.run(['relay', 'nc', '-U', '/x/dev9.sock'], { input: '' });
      assert.equal(ncPresent.code, 1);
      assert.equal(ncPresent.stderr, ncAbsent.stderr);
      assert.equal(ncPresent.stderr.trim(), 'burrow: not permitted to reach dev9:22');
    }));

  it('an address or a bad port: only registered names can be reached', async (t) =>
    withScope(t, async (s) => {
      const { world, info } = await setup(s);
      const addr = await refusedW(info, '127.0.0.1:22');
      assert.match(
        addr,
        /open failed: administratively prohibited: burrow: only registered names can be reached; 127\.0\.0\.1 is not a name/,
      );
      // OpenSSH will not send port 0; ssh2 will, and reads the same code and text.
      const client = new ssh2.Client();
      s.defer(() => void client.end(), 'ssh2 client');
      const privateKey = await readFile(world.opKey.path, 'utf8');
      await new Promise<void>((resolve, reject) => {
        client.once('ready', resolve).once('error', reject);
        client.connect({ host: '127.0.0.1', port: world.relay.port, username: 'x', privateKey });
      });
      const err = await new Promise<Error & { reason?: number }>((resolve) =>
        client.forwardOut('127.0.0.1', 1, 'dev1', 0, (e) => resolve(e ?? new Error('opened'))),
      );
      assert.equal(err.reason, 1, 'SSH_OPEN_ADMINISTRATIVELY_PROHIBITED');
      assert.match(
        err.message,
        /burrow: only registered names can be reached; dev1:0 has no valid port$/,
      );
    }));

  it('the device refused the connection: connect failed, said so', async (t) =>
    withScope(t, async (s) => {
      const { world, info } = await setup(s);
      // dev3 forwards to a port nothing listens on: the device's own connect fails.
      const closed = await freePort();
      await world.register([`dev3:22:127.0.0.1:${closed}`], 'dev3');
      const stderr = await refusedW(info, 'dev3:22');
      assert.match(
        stderr,
        /channel 0: open failed: connect failed: burrow: the device refused the connection to dev3:22/,
      );
      assert.equal(lastRefusal(world)?.reason, 'device-refused');
      const nc = await info.run(['relay', 'nc', '-U', '/x/dev3.sock'], { input: '' });
      assert.equal(nc.stderr.trim(), 'burrow: the device refused the connection to dev3:22');
    }));

  it('too many channels: resource shortage', async (t) =>
    withScope(t, async (s) => {
      const { world, info } = await setup(s, { maxChannels: 1 });
      // One channel held open to the device's sshd (its stdin stays open).
      const held = world.op.spawn(['-W', 'dev1:22', 'relay'], { name: 'held -W' });
      await waitFor(() => world.relay.relay.stats().bridges === 1 || held.exit, {
        what: 'the first channel to be bridged',
      });
      assert.equal(held.exit, undefined, held.output());
      const stderr = await refusedW(info, 'dev1:22');
      assert.match(
        stderr,
        /channel 0: open failed: resource shortage: burrow: too many connections open at once; cannot open another to dev1:22/,
      );
      assert.equal(lastRefusal(world)?.reason, 'too-many-channels');
    }));

  it('a draining relay without the name: the device may have moved', async (t) =>
    withScope(t, async (s) => {
      const { world, info } = await setup(s, { drainGraceMs: 60_000 });
      // dev1 stays registered (a plain ssh -R does not move), so the relay still accepts.
      void world.relay.relay.drain();
      await waitFor(() => world.relay.relay.stats().draining, { what: 'relay draining' });
      const stderr = await refusedW(info, 'dev2:22');
      assert.match(
        stderr,
        /channel 0: open failed: connect failed: burrow: this relay is shutting down and dev2:22 is not connected to it; the device may have moved to another relay/,
      );
      assert.equal(lastRefusal(world)?.reason, 'relay-draining');
    }));
});
