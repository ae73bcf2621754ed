/**
 * The relay's policy file, end to end: every authorized_keys option burrow gives a meaning to,
 * each allowed and refused, with real OpenSSH devices (`ssh -N -R`) and clients (`ssh -J`, `-W`,
 * `-L`), and reloads (file watcher and the SIGHUP path) that must not drop live connections.
 */
import assert from 'node:assert/strict';
import { type Socket, connect as tcpConnect } from 'node:net';
import { describe, it } from 'node:test';
import type { AuditEvent } from '../src/audit/audit.js';
import {
  freePort,
  type KeyPair,
  type Proc,
  type Scope,
  type SshClient,
  startSshd,
  waitFor,
  within,
  withScope,
  writeAuthorizedKeys,
} from './helpers/index.js';
import {
  type AuditEventOf,
  forwardTo,
  relayClient,
  startTestRelay,
  type TestRelay,
} from './helpers/relay.js';
import { keys, line, tagServer } from './helpers/relay-fixtures.js';

/**
 * Starts `ssh -N -R f1 -R f2 … relay` and waits until the relay has registered every forward for
 * `fp`; fails at once if ssh exits first.
 */
async function register(
  device: SshClient,
  relay: TestRelay,
  fp: string,
  forwards: string[],
): Promise<Proc> {
  const before = relay.audit.all('name.registered').length;
  const proc = device.spawn(['-N', ...forwards.flatMap((f) => ['-R', f]), 'relay'], {
    name: `device ${forwards.join(' ')}`,
  });
  await waitFor(
    () => {
      if (proc.exit) throw new Error(`device ssh exited: ${proc.tail()}`);
      const mine = relay.audit
        .all('name.registered')
        .slice(before)
        .filter((e) => e.fp === fp);
      return mine.length === forwards.length;
    },
    { what: `relay to register ${forwards.join(', ')}` },
  );
  return proc;
}

/**
 * Runs `ssh -N -R forward relay` (ExitOnForwardFailure is on in the client config) and waits for
 * it to exit; resolves with its exit code and output.
 */
async function tryRegister(device: SshClient, forward: string) {
  const proc = device.spawn(['-N', '-R', forward, 'relay'], { name: `device ${forward}` });
  const exit = await within(proc.stopped(), 10_000, `ssh -R ${forward} to exit`);
  return { code: exit.code, output: proc.output() };
}

/** Audit events of one kind recorded since `mark` (a length of `relay.audit.events`). */
function since<E extends AuditEvent['event']>(
  relay: TestRelay,
  mark: number,
  event: E,
): AuditEventOf<E>[] {
  return relay.audit.events.slice(mark).filter((e): e is AuditEventOf<E> => e.event === event);
}

/** `ssh -W route relay` with empty stdin. */
const viaW = (client: SshClient, route: string) => client.run(['-W', route, 'relay']);

/** Asserts that `client` reached `route` and got the tag server's greeting. */
async function assertReaches(client: SshClient, route: string, tag: string): Promise<void> {
  const r = await viaW(client, route);
  assert.equal(r.code, 0, `-W ${route}: ${r.stderr}`);
  assert.equal(r.stdout, `${tag}\n`, `-W ${route}`);
}

/** Asserts that the relay refused `client`'s channel to `route` for `fp` with `reason`. */
async function assertConnectRefused(
  relay: TestRelay,
  client: SshClient,
  fp: string,
  route: string,
  reason: string,
): Promise<void> {
  const mark = relay.audit.events.length;
  const r = await viaW(client, route);
  assert.equal(r.code, 255, `-W ${route} should fail: ${r.stdout}`);
  assert.match(r.stderr, /stdio forwarding failed/, `-W ${route}`);
  assert.equal(r.stdout, '');
  const e = await waitFor(
    () => since(relay, mark, 'connect.refused').find((e) => e.fp === fp && e.to === route),
    { what: `connect.refused for ${route}` },
  );
  assert.equal(e.reason, reason, JSON.stringify(e));
}

/** Asserts that `ssh -W` with `key` is refused at authentication for `reason`. */
async function assertAuthRefused(
  relay: TestRelay,
  client: SshClient,
  key: KeyPair,
  route: string,
  reason: string,
): Promise<void> {
  const mark = relay.audit.events.length;
  const r = await viaW(client, route);
  assert.equal(r.code, 255, `${key.comment} should be refused: ${r.stdout}`);
  assert.match(r.stderr, /Permission denied/, key.comment);
  const e = await waitFor(
    () => since(relay, mark, 'auth.refused').find((e) => e.fp === key.fingerprint),
    { what: `auth.refused for ${key.comment}` },
  );
  assert.equal(e.reason, reason, JSON.stringify(e));
  assert.equal(e.ip, '127.0.0.1');
  assert.ok(
    !since(relay, mark, 'auth.accepted').some((a) => a.fp === key.fingerprint),
    `${key.comment} must not be accepted`,
  );
}

/** Opens a TCP connection and resolves with the socket and the first chunk it receives. */
function tcpFirstChunk(port: number): Promise<{ sock: Socket; first: string | undefined }> {
  return new Promise((resolve, reject) => {
    const sock = tcpConnect({ host: '127.0.0.1', port });
    sock.once('error', reject);
    sock.once('data', (d) => resolve({ sock, first: d.toString() }));
    sock.once('close', () => resolve({ sock, first: undefined }));
  });
}

/** Writes `text` on an open socket and resolves with the next chunk it receives. */
function roundTrip(sock: Socket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    sock.once('data', (d) => resolve(d.toString()));
    sock.once('error', reject);
    sock.write(text);
  });
}

describe('relay: policy', () => {
  it('denies by default: no permitlisten registers nothing, no permitopen reaches nothing', async (t) =>
    withScope(t, async (s) => {
      const [bareDev, dev, bareOp, op] = await keys(s, 'bare-dev', 'dev', 'bare-op', 'op');
      const sshd = await startSshd(s, { authorizedKeys: [bareOp!, op!] });
      const relay = await startTestRelay(s, {
        policy: [
          bareDev!.publicLine,
          line(dev!, 'permitlisten="dev1:22"'),
          bareOp!.publicLine,
          line(op!, 'permitopen="dev1:22"'),
        ],
      });

      const bare = await relayClient(s, relay, bareDev!);
      const refused = await tryRegister(bare, forwardTo('dev1', 22, sshd));
      assert.equal(refused.code, 255, refused.output);
      assert.match(refused.output, /remote port forwarding failed/);
      const nr = await relay.audit.wait('name.refused', (e) => e.fp === bareDev!.fingerprint);
      assert.equal(nr.reason, 'not-permitted');
      assert.equal(nr.request, 'dev1:22');
      // The key itself was accepted: the refusal is the forward, not the login.
      assert.ok(relay.audit.all('auth.accepted').some((e) => e.fp === bareDev!.fingerprint));
      assert.equal(relay.relay.stats().routes, 0);

      await register(await relayClient(s, relay, dev!), relay, dev!.fingerprint, [
        forwardTo('dev1', 22, sshd),
      ]);
      const devices = [{ name: 'dev1', hostKeyPub: sshd.hostKeyPub }];
      const bareClient = await relayClient(s, relay, bareOp!, devices);
      const denied = await bareClient.run(['dev1', 'echo', 'reached']);
      assert.equal(denied.code, 255, denied.stdout);
      assert.doesNotMatch(denied.stdout, /reached/);
      const cr = await relay.audit.wait('connect.refused', (e) => e.fp === bareOp!.fingerprint);
      assert.equal(cr.reason, 'not-permitted');
      assert.equal(cr.to, 'dev1:22');

      // The same name, the same way, with a permitopen: reachable.
      const client = await relayClient(s, relay, op!, devices);
      const ok = await client.run(['dev1', 'echo', 'reached']);
      assert.equal(ok.stdout.trim(), 'reached', ok.stderr);
    }));

  it('permitlisten globs register exactly the names they match', async (t) =>
    withScope(t, async (s) => {
      const [globDev, anyDev, op] = await keys(s, 'glob-dev', 'any-dev', 'op');
      const port = await tagServer(s, 'tag');
      const relay = await startTestRelay(s, {
        policy: [
          line(globDev!, 'permitlisten="dev*:22"', 'permitlisten="dev1:80*"'),
          line(anyDev!, 'permitlisten="*:22"'),
          line(op!, 'permitopen="*:*"'),
        ],
      });
      const to = `127.0.0.1:${port}`;
      const glob = await relayClient(s, relay, globDev!);
      const any = await relayClient(s, relay, anyDev!);

      await register(glob, relay, globDev!.fingerprint, [`dev1:22:${to}`, `dev1:8080:${to}`]);
      await register(any, relay, anyDev!.fingerprint, [`web:22:${to}`]);
      const cases: [SshClient, KeyPair, string][] = [
        [glob, globDev!, 'box:22'], // dev*:22: the name does not match
        [glob, globDev!, 'dev1:9080'], // dev1:80*: the port does not match
        [glob, globDev!, 'dev2:8080'], // dev1:80*: the name does not match
        [any, anyDev!, 'web:8080'], // *:22: the port does not match
      ];
      for (const [client, key, route] of cases) {
        const r = await tryRegister(client, `${route}:${to}`);
        assert.equal(r.code, 255, `${route}: ${r.output}`);
        const e = await relay.audit.wait(
          'name.refused',
          (e) => e.fp === key.fingerprint && e.request === route,
        );
        assert.equal(e.reason, 'not-permitted', route);
      }
      const registered = relay.audit.all('name.registered').map((e) => `${e.name}:${e.port}`);
      assert.deepEqual(registered.sort(), ['dev1:22', 'dev1:8080', 'web:22']);

      const client = await relayClient(s, relay, op!);
      for (const route of registered) await assertReaches(client, route, 'tag');
    }));

  it('permitopen globs reach exactly the names they match', async (t) =>
    withScope(t, async (s) => {
      const [dev, opA, opB, opC] = await keys(s, 'dev', 'op-dev-star', 'op-any-22', 'op-dev1-80');
      const relay = await startTestRelay(s, {
        policy: [
          line(dev!, 'permitlisten="*:*"'),
          line(opA!, 'permitopen="dev*:22"'),
          line(opB!, 'permitopen="*:22"'),
          line(opC!, 'permitopen="dev1:80*"'),
        ],
      });
      const routes = ['dev1:22', 'dev1:8080', 'web:22'];
      const forwards = await Promise.all(
        routes.map(async (r) => `${r}:127.0.0.1:${await tagServer(s, r)}`),
      );
      await register(await relayClient(s, relay, dev!), relay, dev!.fingerprint, forwards);

      const a = await relayClient(s, relay, opA!);
      await assertReaches(a, 'dev1:22', 'dev1:22');
      await assertConnectRefused(relay, a, opA!.fingerprint, 'web:22', 'not-permitted');
      const b = await relayClient(s, relay, opB!);
      await assertReaches(b, 'web:22', 'web:22');
      await assertConnectRefused(relay, b, opB!.fingerprint, 'dev1:8080', 'not-permitted');
      const c = await relayClient(s, relay, opC!);
      await assertReaches(c, 'dev1:8080', 'dev1:8080');
      await assertConnectRefused(relay, c, opC!.fingerprint, 'dev1:22', 'not-permitted');
    }));

  it('from= restricts the source address: CIDR, and negation', async (t) =>
    withScope(t, async (s) => {
      const [dev, outside, inside, negated] = await keys(s, 'dev', 'outside', 'inside', 'negated');
      const open = 'permitopen="dev1:22"';
      const relay = await startTestRelay(s, {
        policy: [
          line(dev!, 'permitlisten="dev1:22"'),
          line(outside!, 'from="10.0.0.0/8,192.168.0.0/16"', open),
          line(inside!, 'from="127.0.0.0/8"', open),
          line(negated!, 'from="!127.0.0.1,*"', open),
        ],
      });
      const port = await tagServer(s, 'dev1');
      await register(await relayClient(s, relay, dev!), relay, dev!.fingerprint, [
        `dev1:22:127.0.0.1:${port}`,
      ]);

      await assertAuthRefused(
        relay,
        await relayClient(s, relay, outside!),
        outside!,
        'dev1:22',
        'from-mismatch',
      );
      await assertAuthRefused(
        relay,
        await relayClient(s, relay, negated!),
        negated!,
        'dev1:22',
        'from-mismatch',
      );
      await assertReaches(await relayClient(s, relay, inside!), 'dev1:22', 'dev1');
    }));

  it('expiry-time in the past refuses the key; in the future it works', async (t) =>
    withScope(t, async (s) => {
      const [dev, expired, valid] = await keys(s, 'dev', 'expired', 'valid');
      const open = 'permitopen="dev1:22"';
      const relay = await startTestRelay(s, {
        policy: [
          line(dev!, 'permitlisten="dev1:22"'),
          line(expired!, 'expiry-time="20200101"', open),
          line(valid!, 'expiry-time="20991231235959"', open),
        ],
      });
      const port = await tagServer(s, 'dev1');
      await register(await relayClient(s, relay, dev!), relay, dev!.fingerprint, [
        `dev1:22:127.0.0.1:${port}`,
      ]);
      await assertAuthRefused(
        relay,
        await relayClient(s, relay, expired!),
        expired!,
        'dev1:22',
        'expired',
      );
      await assertReaches(await relayClient(s, relay, valid!), 'dev1:22', 'dev1');
    }));

  it('refuses an unknown key with Permission denied', async (t) =>
    withScope(t, async (s) => {
      const [known, stranger] = await keys(s, 'known', 'stranger');
      const relay = await startTestRelay(s, { policy: [line(known!, 'permitopen="*:*"')] });
      const client = await relayClient(s, relay, stranger!);
      const r = await client.run(['-N', 'relay']);
      assert.equal(r.code, 255, r.stderr);
      assert.match(r.stderr, /Permission denied \(publickey\)/);
      const e = await relay.audit.wait('auth.refused', (e) => e.fp === stranger!.fingerprint);
      assert.equal(e.reason, 'unknown-key');
      assert.equal(relay.audit.all('auth.accepted').length, 0);
    }));

  it('reports each bad line as file:line and still loads the good lines', async (t) =>
    withScope(t, async (s) => {
      const [dev, op, badOp, expOp] = await keys(s, 'dev', 'op', 'bad-op', 'bad-expiry-op');
      const lines = [
        line(dev!, 'permitlisten="dev1:22"'), // 1
        'this is not an authorized_keys line', // 2
        line(badOp!, 'permitopen="dev1"'), // 3: no port
        '# a comment', // 4
        line(expOp!, 'expiry-time="2020-01-01"', 'permitopen="dev1:22"'), // 5
        '', // 6
        line(op!, 'permitopen="dev1:22"'), // 7
        'ssh-ed25519 AAAA!!not-base64!! broken', // 8
        `permitopen="dev1:22 ${op!.publicLine}`, // 9: unterminated quote
      ];
      const relay = await startTestRelay(s, { policy: lines });
      const reported = new Set<number>();
      for (const text of relay.log().split('\n').filter(Boolean)) {
        const msg = String((JSON.parse(text) as { msg?: unknown }).msg ?? '');
        const m = msg.startsWith(`${relay.policyPath}:`)
          ? /^:(\d+): \S/.exec(msg.slice(relay.policyPath.length))
          : null;
        if (m) reported.add(Number(m[1]));
      }
      assert.deepEqual([...reported].sort(), [2, 3, 5, 8, 9], relay.log());
      const loaded = relay.audit.all('policy.loaded');
      assert.equal(loaded.length, 1);
      assert.equal(loaded[0]!.keys, 2);
      assert.equal(loaded[0]!.errors, 5);

      const port = await tagServer(s, 'dev1');
      await register(await relayClient(s, relay, dev!), relay, dev!.fingerprint, [
        `dev1:22:127.0.0.1:${port}`,
      ]);
      const client = await relayClient(s, relay, op!);
      await assertReaches(client, 'dev1:22', 'dev1');
      const accepted = await relay.audit.wait('auth.accepted', (e) => e.fp === op!.fingerprint);
      assert.equal(accepted.key, `${relay.policyPath}:7`);
      // A line skipped for a bad option authorises nothing.
      for (const key of [badOp!, expOp!]) {
        await assertAuthRefused(
          relay,
          await relayClient(s, relay, key),
          key,
          'dev1:22',
          'unknown-key',
        );
      }
    }));

  /**
   * A device registered to a real sshd and an operator session through `ssh -J` that waits for a
   * line on stdin, so it is certainly open while the policy changes.
   */
  async function liveSession(s: Scope, opts: { watch?: boolean } = {}) {
    const [dev, op, newOp, laterOp] = await keys(s, 'dev', 'op', 'new-op', 'later-op');
    const sshd = await startSshd(s, { authorizedKeys: [op!, newOp!, laterOp!] });
    const base = [line(dev!, 'permitlisten="dev1:22"'), line(op!, 'permitopen="dev1:22"')];
    const relay = await startTestRelay(s, { policy: base, ...opts });
    const deviceProc = await register(await relayClient(s, relay, dev!), relay, dev!.fingerprint, [
      forwardTo('dev1', 22, sshd),
    ]);
    const devices = [{ name: 'dev1', hostKeyPub: sshd.hostKeyPub }];
    const client = await relayClient(s, relay, op!, devices);
    const session = client.spawn(['dev1', 'echo started; read x; echo "done-$x"'], {
      name: 'ssh -J session',
    });
    await session.waitForLine(/^started$/);
    const deviceConn = relay.audit.all('name.registered')[0]!.conn;
    const sessionConn = (await relay.audit.wait('auth.accepted', (e) => e.fp === op!.fingerprint))
      .conn;

    return {
      dev: dev!,
      op: op!,
      newOp: newOp!,
      laterOp: laterOp!,
      relay,
      base,
      devices,
      deviceProc,
      session,
      /** Fails unless the device (and, while it is open, the session) is still connected. */
      assertNothingDropped(opts: { sessionOpen: boolean }): void {
        assert.equal(deviceProc.exit, undefined, `device ssh exited: ${deviceProc.tail()}`);
        const closed = relay.audit.all('conn.closed').map((e) => e.conn);
        assert.ok(!closed.includes(deviceConn), 'the device connection was closed');
        assert.equal(relay.audit.all('name.released').length, 0);
        if (!opts.sessionOpen) return;
        assert.equal(session.exit, undefined, `session exited: ${session.tail()}`);
        assert.ok(!closed.includes(sessionConn), 'the session connection was closed');
      },
      /** Finishes the session through the relay and checks it ends cleanly with its output. */
      async finishSession(): Promise<void> {
        session.child.stdin!.write('after-reload\n');
        await session.waitForLine(/^done-after-reload$/);
        session.child.stdin!.end();
        const exit = await within(session.stopped(), 10_000, 'the session to end');
        assert.equal(exit.code, 0, session.tail());
        const closed = await relay.audit.wait('connect.closed', (e) => e.conn === sessionConn);
        assert.equal(closed.device_conn, deviceConn);
      },
    };
  }

  it('re-reads the file when it changes, without dropping connections', async (t) =>
    withScope(t, async (s) => {
      const live = await liveSession(s);
      const { relay } = live;
      relay.policy.watch();
      const newClient = await relayClient(s, relay, live.newOp, live.devices);
      const before = await newClient.run(['dev1', 'echo', 'new-op']);
      assert.equal(before.code, 255, 'new-op must be refused before the change');

      // Rewritten in place (one write), as `cat >>` or a careless editor would.
      const withNew = [...live.base, line(live.newOp, 'permitopen="dev1:22"')];
      await writeAuthorizedKeys(relay.policyPath, withNew);
      await relay.audit.wait('policy.loaded', (e) => e.keys === 3);
      const after = await newClient.run(['dev1', 'echo', 'new-op']);
      assert.equal(after.stdout.trim(), 'new-op', after.stderr);
      live.assertNothingDropped({ sessionOpen: true });

      // Replaced by rename, as most editors save.
      const withLater = [...withNew, line(live.laterOp, 'permitopen="dev1:22"')];
      await writeAuthorizedKeys(relay.policyPath, withLater, { atomic: true });
      await relay.audit.wait('policy.loaded', (e) => e.keys === 4);
      const later = await (await relayClient(s, relay, live.laterOp, live.devices)).run([
        'dev1',
        'echo',
        'later-op',
      ]);
      assert.equal(later.stdout.trim(), 'later-op', later.stderr);
      live.assertNothingDropped({ sessionOpen: true });

      await live.finishSession();
      live.assertNothingDropped({ sessionOpen: false });
      // No reload ever saw a half-written file (that would refuse everyone for a moment).
      const loads = relay.audit.all('policy.loaded').map((e) => e.keys);
      assert.ok(
        loads.every((k) => k >= 2),
        `policy loads: ${loads.join(', ')}`,
      );
    }));

  it('reload() (the SIGHUP path) applies the file without dropping connections', async (t) =>
    withScope(t, async (s) => {
      const live = await liveSession(s, { watch: false });
      const { relay } = live;
      // No watcher: the file alone changes nothing until reload().
      await writeAuthorizedKeys(relay.policyPath, [
        ...live.base,
        line(live.newOp, 'permitopen="dev1:22"'),
      ]);
      const newClient = await relayClient(s, relay, live.newOp, live.devices);
      const before = await newClient.run(['dev1', 'echo', 'new-op']);
      assert.equal(before.code, 255, 'new-op must be refused before reload()');
      assert.equal(relay.audit.all('policy.loaded').length, 1);

      assert.equal(relay.policy.reload(), true);
      const loaded = relay.audit.all('policy.loaded');
      assert.equal(loaded.length, 2);
      assert.equal(loaded[1]!.keys, 3);
      const after = await newClient.run(['dev1', 'echo', 'new-op']);
      assert.equal(after.stdout.trim(), 'new-op', after.stderr);
      live.assertNothingDropped({ sessionOpen: true });
      await live.finishSession();
      live.assertNothingDropped({ sessionOpen: false });
    }));

  it('removing a key closes its open connection and channels; the key is refused from then on', async (t) =>
    withScope(t, async (s) => {
      const [dev, op] = await keys(s, 'dev', 'op');
      const devLine = line(dev!, 'permitlisten="echo:7000"');
      const relay = await startTestRelay(s, {
        policy: [devLine, line(op!, 'permitopen="echo:7000"')],
      });
      const port = await tagServer(s, 'echo');
      await register(await relayClient(s, relay, dev!), relay, dev!.fingerprint, [
        `echo:7000:127.0.0.1:${port}`,
      ]);
      const client = await relayClient(s, relay, op!);
      const lport = await freePort();
      const forward = client.spawn(['-N', '-L', `127.0.0.1:${lport}:echo:7000`, 'relay'], {
        name: 'ssh -L',
      });
      const open = await waitFor(
        async () => {
          if (forward.exit) throw new Error(`ssh -L exited: ${forward.tail()}`);
          const c = await tcpFirstChunk(lport);
          if (c.first === 'echo\n') return c;
          c.sock.destroy();
          return undefined;
        },
        { what: 'a channel through ssh -L' },
      );
      s.defer(() => void open.sock.destroy(), 'socket through -L');
      const opConn = (await relay.audit.wait('auth.accepted', (e) => e.fp === op!.fingerprint))
        .conn;

      assert.equal(await roundTrip(open.sock, 'before\n'), 'before\n');

      await relay.setPolicy([devLine]);
      // The connection is closed at once, taking its open channel with it.
      const closed = await relay.audit.wait('conn.closed', (e) => e.conn === opConn, 2000);
      assert.equal(closed.reason, 'key-revoked');
      await within(forward.stopped(), 5000, 'ssh -L to exit');
      await waitFor(() => open.sock.readableEnded || open.sock.destroyed, {
        what: 'the channel through ssh -L to end',
      });
      // A new connection with the key is refused.
      await assertAuthRefused(relay, client, op!, 'echo:7000', 'unknown-key');
    }));

  it('a key on two lines: the line whose from= matches decides what it may do', async (t) =>
    withScope(t, async (s) => {
      const [dev, op] = await keys(s, 'dev', 'op');
      const relay = await startTestRelay(s, {
        policy: [
          line(dev!, 'permitlisten="*:7000"'),
          line(op!, 'from="10.0.0.0/8"', 'permitopen="a:7000"'),
          line(op!, 'from="127.0.0.0/8"', 'permitopen="b:7000"'),
          line(op!, 'permitopen="c:7000"'),
        ],
      });
      const forwards = await Promise.all(
        ['a', 'b', 'c'].map(async (n) => `${n}:7000:127.0.0.1:${await tagServer(s, n)}`),
      );
      await register(await relayClient(s, relay, dev!), relay, dev!.fingerprint, forwards);
      const client = await relayClient(s, relay, op!);
      await assertReaches(client, 'b:7000', 'b');
      const accepted = await relay.audit.wait('auth.accepted', (e) => e.fp === op!.fingerprint);
      assert.equal(accepted.key, `${relay.policyPath}:3`);
      await assertConnectRefused(relay, client, op!.fingerprint, 'a:7000', 'not-permitted');
      await assertConnectRefused(relay, client, op!.fingerprint, 'c:7000', 'not-permitted');
    }));
});
