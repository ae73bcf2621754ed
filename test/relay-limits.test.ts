/**
 * Limits on authentication and on authenticated connections: every refused method counts against
 * max-auth-tries (as sshd counts them), the audit of refusals stays bounded, and a key or a
 * source address holding connections that serve no name is capped.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AUDITED_FAILURES } from '../src/relay/auth-failures.js';
import ssh2 from '../src/ssh/ssh2.js';
import {
  generateKey,
  type Proc,
  runCommand,
  type Scope,
  tmpDir,
  waitFor,
  withScope,
} from './helpers/index.js';
import {
  CLI_PATH,
  forwardTo,
  registerDevice,
  relayClient,
  startCli,
  startTestRelay,
  startWorld,
  type TestRelay,
} from './helpers/relay.js';

/** Longest a runaway authentication loop may go on before the test gives up on it. */
const RUNAWAY = 500;

/**
 * Authenticates with `methods` in turn (cycling) until the relay disconnects or RUNAWAY attempts
 * have been made. Resolves with the number of attempts the relay saw an answer to or a close.
 */
function authLoop(s: Scope, relay: TestRelay, methods: string[]): Promise<number> {
  const client = new ssh2.Client();
  s.defer(() => void client.destroy(), 'ssh2 client');
  let attempts = 0;
  return new Promise((resolve) => {
    client.on('error', () => {});
    client.on('close', () => resolve(attempts));
    client.on('ready', () => resolve(-1));
    client.connect({
      host: '127.0.0.1',
      port: relay.port,
      username: 'mallory',
      authHandler: (_left, _partial, next) => {
        if (attempts >= RUNAWAY) {
          client.destroy();
          return;
        }
        const type = methods[attempts++ % methods.length]!;
        if (type === 'password') next({ type, username: 'mallory', password: 'hunter2' });
        else next({ type: 'none', username: 'mallory' });
      },
    } as ssh2.ConnectConfig);
  });
}

describe('relay: limits on authentication and authenticated connections', () => {
  it('disconnects after max-auth-tries none attempts, the first none uncounted, audit bounded', async (t) =>
    withScope(t, async (s) => {
      const relay = await startTestRelay(s, { policy: [], config: { maxAuthTries: 10 } });
      const attempts = await authLoop(s, relay, ['none']);
      // One free probe, then ten counted tries; the tenth disconnects.
      assert.equal(attempts, 11, relay.audit.dump());
      const closed = await relay.audit.wait('conn.closed');
      assert.equal(closed.reason, 'max-auth-tries');
      const refused = relay.audit.all('auth.refused');
      assert.equal(refused.length, AUDITED_FAILURES, relay.audit.dump());
      assert.ok(refused.every((e) => e.method === 'none' && e.reason === 'method-not-allowed'));
      assert.deepEqual(
        relay.audit.all('auth.summary').map(({ refused, unaudited, last_reason }) => ({
          refused,
          unaudited,
          last_reason,
        })),
        [{ refused: 10, unaudited: 10 - AUDITED_FAILURES, last_reason: 'method-not-allowed' }],
      );
      // The audit trail of the whole connection stays a handful of lines.
      const lines = relay.audit.events.filter((e) => 'conn' in e && e.conn === closed.conn);
      assert.equal(lines.length, AUDITED_FAILURES + 2, relay.audit.dump());
    }));

  it('counts password attempts mixed with none against max-auth-tries', async (t) =>
    withScope(t, async (s) => {
      const relay = await startTestRelay(s, { policy: [], config: { maxAuthTries: 4 } });
      const attempts = await authLoop(s, relay, ['none', 'password']);
      assert.equal(attempts, 5, relay.audit.dump());
      assert.equal((await relay.audit.wait('conn.closed')).reason, 'max-auth-tries');
      assert.deepEqual(
        relay.audit.all('auth.refused').map((e) => e.method),
        ['password', 'none', 'password'],
      );
    }));

  it('refuses the 4th idle connection of a key at --max-connections-per-key 3, until one closes', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      const idle = await generateKey(dir, 'idle');
      const other = await generateKey(dir, 'other');
      const relay = await startTestRelay(s, {
        policy: [idle.publicKey, other.publicKey],
        config: { maxConnectionsPerKey: 3 },
      });
      const idleSsh = await relayClient(s, relay, idle);
      const otherSsh = await relayClient(s, relay, other);
      const accepted = (fp: string) =>
        relay.audit.all('auth.accepted').filter((e) => e.fp === fp).length;

      const held: Proc[] = [];
      for (let i = 1; i <= 3; i++) {
        held.push(idleSsh.spawn(['-N', 'relay'], { name: `idle ${i}` }));
        await waitFor(() => accepted(idle.fingerprint) === i, { what: `idle connection ${i}` });
      }
      const fourth = await idleSsh.run(['-o', 'LogLevel=INFO', '-N', 'relay']);
      assert.equal(fourth.code, 255, fourth.stderr);
      assert.match(fourth.stderr, /most connections this relay allows per key/);
      assert.match(fourth.stderr, /Permission denied/);
      const refusal = await relay.audit.wait('auth.refused');
      assert.equal(refusal.reason, 'max-connections-per-key');
      assert.equal(refusal.fp, idle.fingerprint);

      // Another key is not affected.
      const otherProc = otherSsh.spawn(['-N', 'relay'], { name: 'other key' });
      await waitFor(() => accepted(other.fingerprint) === 1, { what: 'the other key' });
      assert.equal(otherProc.exit, undefined);

      // Closing one of the three lets the next one in.
      await held[0]!.stop();
      await waitFor(() => relay.audit.all('conn.closed').some((e) => e.fp === idle.fingerprint), {
        what: 'first idle connection closed',
      });
      idleSsh.spawn(['-N', 'relay'], { name: 'idle 5' });
      await waitFor(() => accepted(idle.fingerprint) === 4, { what: 'the next idle connection' });
      assert.equal(relay.relay.stats().connections, 4);
    }));

  it('does not count connections serving names: a device reconnects at the cap', async (t) =>
    withScope(t, async (s) => {
      const { relay, device, sshd, devKey } = await startWorld(s, {
        policy: (dev, op) => [`permitlisten="dev1:*" ${dev}`, op],
        config: { maxConnectionsPerKey: 1 },
      });
      const fp = devKey.fingerprint;
      const old = await registerDevice(device, relay, [forwardTo('dev1', 22, sshd)], 'dev1', fp);
      // The old connection goes half-open (its process frozen) while still holding dev1; the
      // device reconnects and takes the name over although the key is at its cap of one.
      old.signal('SIGSTOP');
      s.defer(() => old.signal('SIGCONT'), 'thaw old device connection');
      const before = relay.audit.all('name.registered').length;
      device.spawn(['-N', '-R', forwardTo('dev1', 22, sshd), 'relay'], { name: 'device again' });
      await relay.audit.wait('name.taken_over', (e) => e.fp === fp);
      assert.equal(relay.audit.all('name.registered').length, before + 1);

      // A connection serving nothing does count: one is let in, the next refused.
      device.spawn(['-N', 'relay'], { name: 'idle' });
      await waitFor(
        () => relay.audit.all('auth.accepted').filter((e) => e.fp === fp).length === 3,
        {
          what: 'idle connection',
        },
      );
      const refused = await device.run(['-N', 'relay']);
      assert.equal(refused.code, 255, refused.stderr);
      const r = await relay.audit.wait('auth.refused');
      assert.equal(r.reason, 'max-connections-per-key');
    }));
});

describe('relay: connection cap flags', () => {
  it('reads --max-connections-per-key and BURROW_MAX_CONNECTIONS_PER_SOURCE, rejects bad values', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      const key = await generateKey(dir, 'k');
      const hostKey = await generateKey(dir, 'host_key');
      writeFileSync(join(dir, 'authorized_keys'), `${key.publicKey}\n`, { mode: 0o600 });
      const base = [
        'relay',
        '--listen',
        '127.0.0.1:0',
        '--host-key',
        hostKey.path,
        '--authorized-keys',
        join(dir, 'authorized_keys'),
      ];
      const cli = (args: string[], env: Record<string, string> = {}) =>
        runCommand(s, process.execPath, [CLI_PATH, ...args], { env });
      for (const [args, env, want] of [
        [['--max-connections-per-key', '0'], {}, /--max-connections-per-key: expected a whole/],
        [['--max-connections-per-key', 'lots'], {}, /--max-connections-per-key: expected/],
        [[], { BURROW_MAX_CONNECTIONS_PER_SOURCE: '-1' }, /--max-connections-per-source: /],
      ] as [string[], Record<string, string>, RegExp][]) {
        const r = await cli([...base, ...args], env);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, want);
        assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
      }
      const help = await cli(['relay', '--help']);
      assert.match(help.stdout, /--max-connections-per-key <n>/);
      assert.match(help.stdout, /BURROW_MAX_CONNECTIONS_PER_SOURCE/);

      const proc = startCli(s, [...base, '--max-connections-per-key', '1'], {
        env: { BURROW_MAX_CONNECTIONS_PER_SOURCE: '5' },
      });
      const m = await proc.waitForLine(/"event":"relay.started".*"listen":"127\.0\.0\.1:(\d+)"/, {
        stream: 'stdout',
      });
      const ssh = await relayClient(s, { port: Number(m[1]), hostKeyPub: hostKey.publicKey }, key);
      ssh.spawn(['-N', 'relay'], { name: 'first' });
      await proc.waitForLine(/"event":"auth.accepted"/, { stream: 'stdout' });
      const second = await ssh.run(['-o', 'LogLevel=INFO', '-N', 'relay']);
      assert.equal(second.code, 255);
      assert.match(second.stderr, /most connections this relay allows per key/);
      await proc.waitForLine(/"event":"auth.refused".*"reason":"max-connections-per-key"/, {
        stream: 'stdout',
      });
    }));
});
