/**
 * The relay serves names and nothing else: no open proxy, no shell, no other exec, no subsystem,
 * no pty, no agent or X11 forwarding, no registration that is not a name. Each refusal is audited.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import ssh2 from '../src/ssh/ssh2.js';
import { runCommand, type Scope, startProc, waitFor, withScope } from './helpers/index.js';
import { forwardTo, startWorld, type TestRelay } from './helpers/relay.js';

/** A relay with dev1 registered, an operator allowed to open anything and listen anywhere. */
async function setup(s: Scope) {
  const world = await startWorld(s, {
    policy: (dev, op) => [
      `permitlisten="dev1:22" ${dev}`,
      `permitopen="*:*",permitlisten="*:*" ${op}`,
    ],
  });
  await world.register([forwardTo('dev1', 22, world.sshd)]);
  return world;
}

function refusedConnects(relay: TestRelay, reason: string): string[] {
  return relay.audit
    .all('connect.refused')
    .filter((e) => e.reason === reason)
    .map((e) => e.to);
}

describe('relay: refusals', () => {
  it('is not an open proxy: addresses, localhost and unknown names are refused', async (t) =>
    withScope(t, async (s) => {
      const { sshd, relay, op } = await setup(s);
      for (const dest of [`127.0.0.1:${sshd.port}`, 'localhost:22', '[::1]:22', '10.0.0.1:22']) {
        const r = await op.run(['-W', dest, 'relay'], { input: 'x' });
        assert.equal(r.code, 255, `${dest}: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, /open failed|stdio forwarding failed/);
      }
      assert.equal(refusedConnects(relay, 'not-a-name').length, 4, relay.audit.dump());
      const unknown = await op.run(['-W', 'nosuchdevice:22', 'relay'], { input: 'x' });
      assert.equal(unknown.code, 255);
      assert.deepEqual(refusedConnects(relay, 'unknown-name'), ['nosuchdevice:22']);
      // The registered name on a port it did not register is just as unknown.
      const wrongPort = await op.run(['-W', 'dev1:6379', 'relay'], { input: 'x' });
      assert.equal(wrongPort.code, 255);
      assert.ok(refusedConnects(relay, 'unknown-name').includes('dev1:6379'));
      // And nc -U to a name that is not registered.
      const nc = await op.run(['relay', 'nc', '-U', '/x/ghost.sock'], { input: 'x' });
      assert.equal(nc.code, 1);
      assert.match(nc.stderr, /burrow: ghost:22 is not connected to this relay/);
    }));

  it('serves no shell, no other command, no subsystem and no pty', async (t) =>
    withScope(t, async (s) => {
      const { relay, op } = await setup(s);
      const shell = await op.run(['-T', 'relay']);
      assert.equal(shell.code, 1);
      assert.match(shell.stderr, /serves no shell/);

      const exec = await op.run(['relay', 'cat', '/etc/passwd']);
      assert.equal(exec.code, 1);
      assert.equal(exec.stdout, '');
      assert.match(exec.stderr, /only routes connections/);

      const sftp = await runCommand(s, 'sftp', ['-F', op.configPath, '-b', '-', 'relay'], {
        input: 'ls\n',
      });
      assert.notEqual(sftp.code, 0);

      const pty = await op.run(['-tt', 'relay', 'nc', '-U', '/x/dev1.sock'], { input: '' });
      assert.match(pty.stderr, /PTY allocation request failed/);

      const requests = relay.audit
        .all('request.refused')
        .map((e) => `${e.request}:${e.detail ?? ''}`);
      assert.ok(requests.includes('shell:'), requests.join());
      assert.ok(requests.includes('exec:cat'), requests.join());
      assert.ok(requests.includes('subsystem:sftp'), requests.join());
      assert.ok(requests.includes('pty:'), requests.join());
      // The refused command line itself is not logged (it could hold anything).
      assert.doesNotMatch(relay.audit.dump(), /etc\/passwd/);
    }));

  it('refuses agent and X11 forwarding requests', async (t) =>
    withScope(t, async (s) => {
      const { dir, opKey, relay, op } = await setup(s);
      // Agent forwarding, from real OpenSSH with a real ssh-agent to forward.
      const agentSock = join(dir, 'agent.sock');
      const agent = startProc(s, 'ssh-agent', ['-D', '-a', agentSock], { name: 'ssh-agent' });
      await waitFor(() => existsSync(agentSock) || agent.exit, { what: 'ssh-agent socket' });
      const fwd = await op.run(
        [
          '-o',
          'ForwardAgent=yes',
          '-o',
          `IdentityAgent=${agentSock}`,
          'relay',
          'nc',
          '-U',
          '/x/dev1.sock',
        ],
        { input: '' },
      );
      assert.notEqual(fwd.code, null);
      // X11, from ssh2 (OpenSSH only asks for it with a DISPLAY and xauth present).
      const client = new ssh2.Client();
      s.defer(() => void client.end(), 'ssh2 client');
      const privateKey = await readFile(opKey.path, 'utf8');
      await new Promise<void>((resolve, reject) => {
        client.on('ready', () => resolve());
        client.on('error', reject);
        client.connect({
          host: '127.0.0.1',
          port: relay.port,
          username: 'x',
          privateKey,
        });
      });
      const x11 = await new Promise<string>((resolve) => {
        client.exec('nc -U /x/dev1.sock', { x11: true }, (err) => resolve(err?.message ?? 'ok'));
      });
      assert.match(x11, /Unable to request X11/);
      const requests = relay.audit.all('request.refused').map((e) => e.request);
      assert.ok(requests.includes('x11'), requests.join());
      assert.ok(requests.includes('agent-forwarding'), requests.join());
    }));

  it('refuses registrations that are not names', async (t) =>
    withScope(t, async (s) => {
      const { relay, op } = await setup(s);
      const cases: [string, string][] = [
        ['8022:127.0.0.1:22', 'not-a-name'],
        ['0.0.0.0:8022:127.0.0.1:22', 'not-a-name'],
        ['127.0.0.1:8022:127.0.0.1:22', 'not-a-name'],
        ['localhost:8022:127.0.0.1:22', 'not-a-name'],
        ['dev9:0:127.0.0.1:22', 'port-required'],
      ];
      for (const [forward] of cases) {
        const r = await op.run(['-N', '-R', forward, 'relay']);
        assert.equal(r.code, 255, `${forward} was accepted: ${r.stderr}`);
        assert.match(r.stderr, /remote port forwarding failed/);
      }
      const reasons = relay.audit.all('name.refused').map((e) => e.reason);
      assert.deepEqual(
        reasons,
        cases.map(([, reason]) => reason),
      );
      assert.equal(relay.relay.stats().routes, 1);
    }));
});
