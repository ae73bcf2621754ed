/**
 * Proves the integration-test harness against the real programs: keys from ssh-keygen, a real
 * sshd, the ssh client driven only by the generated ssh_config (including the nested ssh of -J),
 * fault injection with the proxy, and cleanup that leaves no process behind.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  createSshClient,
  descendants,
  generateKey,
  isAlive,
  Scope,
  startProc,
  startProxy,
  startSshd,
  tmpDir,
  WaitTimeoutError,
  waitFor,
  within,
  withScope,
} from './helpers/index.js';

/** One sshd that accepts `key`, and a client trusting it as host `sshd`. */
async function sshdAndClient(s: Scope) {
  const dir = await tmpDir(s);
  const key = await generateKey(dir, 'id_client');
  const sshd = await startSshd(s, { authorizedKeys: [key] });
  const ssh = await createSshClient(s, { identity: key });
  // Looked up in known_hosts as 'sshd' whichever port (direct or a proxy) the alias points at.
  ssh.addHost({
    alias: 'sshd',
    port: sshd.port,
    user: 'root',
    hostKeyAlias: 'sshd',
    hostKey: sshd.hostKeyPub,
  });
  return { key, sshd, ssh };
}

test('keys come from ssh-keygen with their SHA256 fingerprint', (t) =>
  withScope(t, async (s) => {
    const dir = await tmpDir(s);
    const key = await generateKey(dir, 'id_test', { comment: 'tester@burrow' });
    assert.match(key.publicLine, /^ssh-ed25519 AAAA[A-Za-z0-9+/=]+ tester@burrow$/);
    assert.equal(key.publicKey, key.publicLine.split(' ').slice(0, 2).join(' '));
    assert.match(key.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
    const other = await generateKey(dir, 'id_other');
    assert.notEqual(other.fingerprint, key.fingerprint);
  }));

test('ssh runs a command on a real sshd; an unknown host key is refused', (t) =>
  withScope(t, async (s) => {
    const { sshd, ssh } = await sshdAndClient(s);
    const result = await ssh.run(['sshd', 'echo hello']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'hello\n');
    assert.match(sshd.log(), /Accepted publickey for root from 127\.0\.0\.1/);

    // Same server under a name with no known_hosts entry: StrictHostKeyChecking must refuse it.
    ssh.addHost({ alias: 'untrusted', port: sshd.port, user: 'root', hostKeyAlias: 'untrusted' });
    const refused = await ssh.run(['untrusted', 'echo hello']);
    assert.equal(refused.code, 255);
    assert.equal(refused.stdout, '');
    assert.match(refused.stderr, /Host key verification failed/);
  }));

test('ssh -J gives the nested jump-host ssh the same config file', (t) =>
  withScope(t, async (s) => {
    const { sshd, ssh } = await sshdAndClient(s);
    // The target is the same sshd, reached through itself as the jump host; the jump leg only
    // works if the nested ssh reads the identity and known_hosts from the -F file.
    ssh.addHost({
      alias: 'target',
      port: sshd.port,
      hostKeyAlias: 'target',
      hostKey: sshd.hostKeyPub,
    });
    const result = await ssh.run(['-J', 'sshd', 'root@target', 'echo jumped']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'jumped\n');
    const logins = (): number => sshd.log().match(/Accepted publickey for root/g)?.length ?? 0;
    await waitFor(() => logins() >= 2, { what: 'sshd to log the jump and the target login' });
    assert.equal(logins(), 2);
  }));

test('the proxy forwards a session, holds bytes while blackholed, delivers them on resume', (t) =>
  withScope(t, async (s) => {
    const { sshd, ssh } = await sshdAndClient(s);
    const proxy = await startProxy(s, sshd.port);
    ssh.addHost({ alias: 'proxied', port: proxy.port, user: 'root', hostKeyAlias: 'sshd' });
    const session = ssh.spawn(['proxied', 'echo ready; exec cat']);
    await session.waitForLine(/^ready$/, { stream: 'stdout' });
    assert.equal(proxy.connections, 1);
    assert.ok(proxy.bytesUp > 0 && proxy.bytesDown > 0);

    session.child.stdin!.write('one\n');
    await session.waitForLine(/^one$/, { stream: 'stdout' });

    proxy.blackhole();
    const before = { up: proxy.bytesUp, down: proxy.bytesDown };
    session.child.stdin!.write('two\n');
    await waitFor(() => proxy.heldBytes > 0, { what: 'the proxy to hold the line sent' });
    assert.equal(proxy.bytesUp, before.up);
    assert.doesNotMatch(session.output('stdout'), /two/);

    proxy.resume();
    await session.waitForLine(/^two$/, { stream: 'stdout' });
    assert.ok(proxy.bytesUp > before.up);
    session.child.stdin!.end();
    const exit = await within(session.stopped(), 10_000, 'the session to end after EOF');
    assert.equal(exit.code, 0, session.tail());
  }));

test('a blackholed session with ServerAlive dies within a bound; cutAll resets at once', (t) =>
  withScope(t, async (s) => {
    const { sshd, ssh } = await sshdAndClient(s);
    const proxy = await startProxy(s, sshd.port);
    ssh.addHost({ alias: 'proxied', port: proxy.port, user: 'root', hostKeyAlias: 'sshd' });
    // LogLevel INFO: ssh reports the keepalive timeout at that level.
    const alive = [
      '-o',
      'ServerAliveInterval=1',
      '-o',
      'ServerAliveCountMax=2',
      '-o',
      'LogLevel=INFO',
    ];

    const silent = ssh.spawn([...alive, 'proxied', 'echo ready; exec sleep 600']);
    await silent.waitForLine(/^ready$/);
    proxy.blackhole();
    const started = Date.now();
    const exit = await within(silent.stopped(), 20_000, 'ssh to give up on the dead network');
    assert.equal(exit.code, 255);
    assert.match(silent.output('stderr'), /Timeout, server .* not responding/);
    assert.ok(Date.now() - started >= 1000, 'gave up before any keepalive could be missed');

    proxy.resume();
    const reset = ssh.spawn(['proxied', 'echo ready; exec sleep 600']);
    await reset.waitForLine(/^ready$/);
    proxy.cutAll();
    const cut = await within(reset.stopped(), 10_000, 'ssh to notice the reset');
    assert.equal(cut.code, 255);
    assert.equal(proxy.connections, 0);
  }));

test('closing a scope stops sshd, its sessions and detached descendants', async () => {
  const s = new Scope();
  try {
    const { sshd, ssh } = await sshdAndClient(s);
    const session = ssh.spawn(['sshd', 'echo ready; exec sleep 600']);
    await session.waitForLine(/^ready$/);
    // A grandchild in its own session, out of the process group.
    const shell = startProc(s, 'sh', ['-c', 'setsid sleep 600 & echo $!; wait']);
    const [line] = await shell.waitForLine(/^\d+$/);
    const pids = [sshd.proc.pid, session.pid, shell.pid, Number(line)];
    const sessionTree = descendants(sshd.proc.pid).map((p) => p.pid);
    assert.ok(sessionTree.length > 0, 'sshd has no session processes');
    for (const pid of [...pids, ...sessionTree]) assert.ok(isAlive(pid), `pid ${pid} not running`);

    await s.close();

    for (const pid of [sshd.proc.pid, session.pid, shell.pid]) {
      assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `pid ${pid} survived`);
    }
    for (const pid of [Number(line), ...sessionTree]) {
      assert.equal(isAlive(pid), false, `descendant pid ${pid} survived`);
    }
  } finally {
    await s.close();
  }
});

test('waitFor names what it waited for and quotes the last error', async () => {
  await assert.rejects(
    waitFor(
      () => {
        throw new Error('not yet');
      },
      { what: 'the impossible', timeoutMs: 100 },
    ),
    (err: unknown) =>
      err instanceof WaitTimeoutError &&
      /waiting for the impossible/.test(err.message) &&
      /not yet/.test(err.message),
  );
});
