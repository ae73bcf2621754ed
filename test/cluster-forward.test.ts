/**
 * Entering through any relay: three `burrow relay` processes share one real redis-server; a device
 * (`ssh -N -R`) holds dev1 on relay A; an operator (real OpenSSH) reaches it through relay B with
 * -J, -W, -L and nc -U, over B's peer link to A. Relay C's host key is not in the peers file.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  createSshClient,
  freePort,
  generateKey,
  type KeyPair,
  type Proc,
  runCommand,
  type Scope,
  type SshClient,
  startSshd,
  tmpDir,
  waitFor,
  withScope,
} from './helpers/index.js';
import { startRedis } from './helpers/redis.js';
import { CLI_PATH, relayClient, startCli } from './helpers/relay.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface CliRelay {
  readonly id: string;
  readonly port: number;
  readonly hostKey: KeyPair;
  readonly proc: Proc;
  /** Audit lines (stdout) of one event so far. */
  audit(event: string): Record<string, unknown>[];
}

interface Cluster {
  readonly a: CliRelay;
  readonly b: CliRelay;
  readonly c: CliRelay;
  readonly opKey: KeyPair;
  /** Operator client: hosts relayA/relayB/relayC, and dev1 behind relayB (and dev1-c behind C). */
  readonly op: SshClient;
  readonly stranger: SshClient;
  readonly device: Proc;
}

function auditOf(proc: Proc, event: string): Record<string, unknown>[] {
  return proc
    .output('stdout')
    .split('\n')
    .filter((l) => l.includes(`"event":"${event}"`))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function startCluster(s: Scope): Promise<Cluster> {
  const redis = await startRedis(s);
  const dir = await tmpDir(s);
  const devKey = await generateKey(dir, 'device');
  const opKey = await generateKey(dir, 'operator');
  const strangerKey = await generateKey(dir, 'stranger');
  const sshd = await startSshd(s, { authorizedKeys: [opKey, strangerKey] });
  writeFileSync(
    join(dir, 'authorized_keys'),
    [
      `permitlisten="dev1:22" ${devKey.publicKey}`,
      `permitopen="dev1:22" ${opKey.publicKey}`,
      `permitopen="other:22" ${strangerKey.publicKey}`,
    ].join('\n'),
  );
  const keys = {
    a: await generateKey(dir, 'host_a'),
    b: await generateKey(dir, 'host_b'),
    c: await generateKey(dir, 'host_c'),
  };
  const peersFile = join(dir, 'peers');
  writeFileSync(
    peersFile,
    `# the relays of this cluster\n${keys.a.publicLine}\n${keys.b.publicLine}\n`,
  );
  const start = async (which: 'a' | 'b' | 'c'): Promise<CliRelay> => {
    const port = await freePort();
    const proc = startCli(
      s,
      [
        'relay',
        ...['--listen', `127.0.0.1:${port}`, '--advertise', `127.0.0.1:${port}`],
        ...['--host-key', keys[which].path, '--authorized-keys', join(dir, 'authorized_keys')],
        ...['--registry', redis.url, '--peers', peersFile, '--keepalive-interval', '1s'],
        ...['--log-format', 'json'],
      ],
      { name: `relay ${which}` },
    );
    const started = await proc.waitForLine(/"event":"relay.started","relay":"([^"]+)"/, {
      stream: 'stdout',
    });
    return {
      id: started[1] ?? '',
      port,
      hostKey: keys[which],
      proc,
      audit: (event) => auditOf(proc, event),
    };
  };
  const [a, b, c] = [await start('a'), await start('b'), await start('c')];

  const devClient = await relayClient(s, { port: a.port, hostKeyPub: a.hostKey.publicKey }, devKey);
  const device = devClient.spawn(['-N', '-R', `dev1:22:127.0.0.1:${sshd.port}`, 'relay'], {
    name: 'device dev1',
  });
  await waitFor(
    () => {
      if (device.exit) throw new Error(`device ssh exited: ${device.tail()}`);
      return a.audit('name.registered').some((e) => e.name === 'dev1');
    },
    { what: 'relay A to register dev1' },
  );

  // LogLevel INFO (OpenSSH's default), at which ssh prints a channel's `open failed` text.
  const op = await createSshClient(s, { identity: opKey, logLevel: 'INFO' });
  op.addHost({ alias: 'relay', port: b.port, user: 'burrow', hostKey: b.hostKey.publicKey });
  op.addHost({ alias: 'dev1', hostName: null, user: 'root', proxyJump: 'relay' });
  op.trust('dev1', sshd.hostKeyPub);
  op.addHost({ alias: 'relayC', port: c.port, user: 'burrow', hostKey: c.hostKey.publicKey });
  const stranger = await createSshClient(s, { identity: strangerKey, logLevel: 'INFO' });
  stranger.addHost({ alias: 'relay', port: b.port, user: 'burrow', hostKey: b.hostKey.publicKey });
  return { a, b, c, opKey, op, stranger, device };
}

describe('cluster: enter through any relay', () => {
  it('reaches a name held on relay A through relay B with -J, -W, -L and nc -U', async (t) =>
    withScope(t, async (s) => {
      const { a, b, op, opKey } = await startCluster(s);
      op.addHost({
        alias: 'via-w',
        hostName: null,
        user: 'root',
        hostKeyAlias: 'dev1',
        options: { ProxyCommand: `${op.command()} -W dev1:22 relay` },
      });
      op.addHost({
        alias: 'via-nc',
        hostName: null,
        user: 'root',
        hostKeyAlias: 'dev1',
        options: { ProxyCommand: `${op.command()} relay nc -U /x/dev1.sock` },
      });

      const viaJ = await op.run(['-J', 'relay', 'root@dev1', 'true']);
      assert.equal(viaJ.code, 0, viaJ.stderr);
      const viaW = await op.run(['via-w', 'echo', 'via-W']);
      assert.equal(viaW.stdout.trim(), 'via-W', viaW.stderr);
      const viaNc = await op.run(['via-nc', 'echo', 'via-nc']);
      assert.equal(viaNc.stdout.trim(), 'via-nc', viaNc.stderr);

      const lport = await freePort();
      // `ssh -f` returns once the forward is up and leaves a background ssh holding it; the
      // Proc's scope cleanup ends that one too (it carries the Proc's token).
      const forward = op.spawn(
        ['-f', '-N', '-o', 'ExitOnForwardFailure=yes', '-L', `127.0.0.1:${lport}:dev1:22`, 'relay'],
        { name: 'ssh -f -L' },
      );
      const forwarded = await forward.stopped();
      assert.equal(forwarded.code, 0, forward.tail());
      op.addHost({ alias: 'via-l', port: lport, user: 'root', hostKeyAlias: 'dev1' });
      const viaL = await op.run(['via-l', 'echo', 'via-L']);
      assert.equal(viaL.stdout.trim(), 'via-L', viaL.stderr);

      // Audited on both relays, each naming the other.
      await waitFor(() => b.audit('connect.closed').length >= 3, { what: 'B to audit closes' });
      const onB = b.audit('connect.closed');
      for (const e of onB) {
        assert.equal(e.to, 'dev1:22');
        assert.equal(e.fp, opKey.fingerprint);
        assert.equal(e.via_relay, a.id);
        assert.ok((e.bytes_to_device as number) > 0, JSON.stringify(e));
      }
      assert.deepEqual(new Set(onB.map((e) => e.via)), new Set(['direct-tcpip', 'nc']));
      await waitFor(() => a.audit('connect.closed').length >= 3, { what: 'A to audit closes' });
      for (const e of a.audit('connect.closed')) assert.equal(e.via_relay, b.id);
      const peerAuth = a.audit('auth.accepted').filter((e) => e.fp === b.hostKey.fingerprint);
      assert.equal(peerAuth.length, 1, 'one persistent link from B to A, shared by every use');
      assert.match(String(peerAuth[0]?.key), /^peers .*peers:3$/);
    }));

  it('carries 64 MiB through B to A intact; permitopen is enforced at the entry relay', async (t) =>
    withScope(t, async (s) => {
      const { a, b, op, stranger } = await startCluster(s);
      const up = randomBytes(64 * 1024 * 1024);
      const r = await op.run(['dev1', 'sha256sum'], { input: up, timeoutMs: 120_000 });
      assert.equal(r.stdout.split(' ')[0], sha(up), r.stderr);

      // A key without permitopen for dev1 is told so at B, whether or not dev1 exists anywhere.
      for (const name of ['dev1', 'nosuch']) {
        const refused = await stranger.run(['-W', `${name}:22`, 'relay']);
        assert.notEqual(refused.code, 0);
        assert.match(refused.stderr, new RegExp(`burrow: not permitted to reach ${name}:22`));
      }
      const onB = b.audit('connect.refused').filter((e) => e.reason === 'not-permitted');
      assert.equal(onB.length, 2);
      assert.equal(
        a.audit('connect.refused').length + a.audit('connect.closed').length,
        1,
        'only the permitted transfer reached A',
      );
    }));

  it('a relay whose host key is not in the peers file cannot forward, and the operator is told', async (t) =>
    withScope(t, async (s) => {
      const { a, c, op } = await startCluster(s);
      const r = await op.run(['-W', 'dev1:22', 'relayC']);
      assert.notEqual(r.code, 0);
      assert.match(
        r.stderr,
        new RegExp(
          `burrow: dev1:22 is on relay ${escapeRe(a.id)}, which does not accept this relay as a peer`,
        ),
      );
      await waitFor(
        () =>
          a
            .audit('auth.refused')
            .some((e) => e.fp === c.hostKey.fingerprint && e.reason === 'unknown-key'),
        { what: 'A to audit the refused relay C' },
      );
      assert.equal(a.audit('connect.closed').length, 0);
      const onC = c.audit('connect.refused');
      assert.equal(onC[0]?.reason, 'peer-refused');
      assert.equal(onC[0]?.via_relay, a.id);
    }));

  it('an operator through B is told at once when relay A was killed', async (t) =>
    withScope(t, async (s) => {
      const { a, op } = await startCluster(s);
      const ok = await op.run(['-W', 'dev1:22', 'relay'], { input: '' });
      assert.equal(ok.code, 0, ok.stderr);
      await a.proc.kill9();
      for (let i = 0; i < 2; i++) {
        const r = await op.run(['-W', 'dev1:22', 'relay'], { input: '' });
        assert.notEqual(r.code, 0);
        assert.ok(r.durationMs < 3000, `took ${r.durationMs} ms`);
        assert.match(
          r.stderr,
          new RegExp(`burrow: dev1:22 is on relay ${escapeRe(a.id)}, which cannot be reached`),
        );
      }
    }));

  it('refuses --peers with a shared registry on a wildcard address without --advertise', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      writeFileSync(join(dir, 'peers'), 'ssh-ed25519 not-a-key relay-x\n');
      const run = (args: string[]) =>
        runCommand(
          s,
          process.execPath,
          [CLI_PATH, 'relay', '--host-key', join(dir, 'k'), '--peers', join(dir, 'peers'), ...args],
          { env: { BURROW_DATA_DIR: dir }, timeoutMs: 15_000 },
        );
      const r = await run(['--listen', '0.0.0.0:2222', '--registry', 'redis://127.0.0.1:1']);
      assert.equal(r.code, 2);
      assert.match(
        r.stderr,
        /^burrow: --advertise is required with --peers and a shared --registry/,
      );
      const bad = await run(['--listen', '127.0.0.1:0', '--advertise', '0.0.0.0:2222']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /^burrow: --advertise: "0\.0\.0\.0:2222" is not an address/);
    }));

  it('reports a bad peers line as file:line and skips it', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      const good = await generateKey(dir, 'host_x');
      writeFileSync(join(dir, 'peers'), `ssh-ed25519 not-a-key relay-x\n${good.publicLine}\n`);
      const relay = startCli(s, [
        'relay',
        ...['--listen', '127.0.0.1:0', '--host-key', join(dir, 'k')],
        ...['--authorized-keys', join(dir, 'peers'), '--peers', join(dir, 'peers')],
        ...['--log-format', 'json', '--audit-log', join(dir, 'audit')],
      ]);
      const line = await relay.waitForLine(/--peers: \S+peers:1: /, { stream: 'stderr' });
      assert.ok(line);
      await relay.waitForLine(/"peers":1\b/, { stream: 'stderr' });
    }));
});

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
