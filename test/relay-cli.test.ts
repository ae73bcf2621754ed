/**
 * `burrow relay` as a process: host key handling, flag validation, SIGHUP, SIGTERM drain, and
 * a check that no key material ever reaches the logs or the audit trail.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DRAIN_REQUEST, FORWARD_REFUSED_PREFIX } from '../src/core/constants.js';
import ssh2 from '../src/ssh/ssh2.js';
import {
  generateKey,
  type Proc,
  publicKeyOf,
  runCommand,
  type Scope,
  startSshd,
  tmpDir,
  waitFor,
  within,
  withScope,
} from './helpers/index.js';
import { CLI_PATH, relayCliArgs, relayClient, startCli } from './helpers/relay.js';

interface Started {
  proc: Proc;
  port: number;
  hostKeyFp: string;
}

/** Starts `burrow relay` on a free port and waits for its relay.started audit line. */
async function startRelayCli(s: Scope, dir: string, extra: string[] = []): Promise<Started> {
  const proc = startCli(s, [...relayCliArgs(dir), ...extra]);
  const m = await proc.waitForLine(
    /"event":"relay.started".*"listen":"127\.0\.0\.1:(\d+)","host_key":"([^"]+)"/,
    {
      stream: 'stdout',
    },
  );
  return { proc, port: Number(m[1]), hostKeyFp: m[2]! };
}

function runCli(s: Scope, args: string[], env: Record<string, string> = {}) {
  return runCommand(s, process.execPath, [CLI_PATH, ...args], { env, timeoutMs: 15_000 });
}

describe('burrow relay (CLI)', () => {
  it('creates an ed25519 host key (0600), prints its fingerprint, and reuses it', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      writeFileSync(join(dir, 'authorized_keys'), '');
      const first = await startRelayCli(s, dir);
      const keyPath = join(dir, 'host_key');
      assert.equal(statSync(keyPath).mode & 0o777, 0o600);
      const keygen = execFileSync('ssh-keygen', ['-lf', keyPath], { encoding: 'utf8' });
      assert.ok(keygen.includes(first.hostKeyFp), `${keygen} vs ${first.hostKeyFp}`);
      assert.match(keygen, /ED25519/);
      await first.proc.waitForLine(/relay listening on 127\.0\.0\.1:\d+, host key SHA256:/, {
        stream: 'stderr',
      });
      assert.ok(first.proc.output('stderr').includes(`host key ${first.hostKeyFp}`));
      await first.proc.stop();
      const second = await startRelayCli(s, dir);
      assert.equal(second.hostKeyFp, first.hostKeyFp);
      // What the server presents is that key.
      const scan = await runCommand(s, 'ssh-keyscan', ['-p', String(second.port), '127.0.0.1']);
      assert.ok(scan.stdout.includes(publicKeyOf(keyPath)), scan.stdout);
    }));

  it('refuses unusable host keys and bad flags with exit 2 and a clear line', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      const keys = join(dir, 'authorized_keys');
      writeFileSync(keys, '');
      const open = join(dir, 'open_key');
      writeFileSync(open, readFileSync((await generateKey(dir, 'k1')).path), { mode: 0o644 });
      const garbage = join(dir, 'garbage_key');
      writeFileSync(garbage, 'not a key\n', { mode: 0o600 });
      const encrypted = join(dir, 'enc');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret-pass', '-f', encrypted]);
      const base = ['relay', '--listen', '127.0.0.1:0', '--authorized-keys', keys];
      const cases: [string[], RegExp][] = [
        [[...base, '--host-key', open], /--host-key: .*readable by other users.*chmod 600/],
        [[...base, '--host-key', garbage], /--host-key: .*not a usable private key/],
        [[...base, '--host-key', encrypted], /--host-key: .*encrypted/],
        [['relay', '--listen', 'nope'], /--listen: expected HOST:PORT/],
        [[...base, '--keepalive-interval', 'soon'], /--keepalive-interval: expected a duration/],
        [[...base, '--max-auth-tries', '0'], /--max-auth-tries: expected a whole number/],
        [
          ['relay', '--authorized-keys', join(dir, 'missing')],
          /--authorized-keys: .*does not exist/,
        ],
        [['relay', '--bogus'], /unknown option '--bogus'/],
        [
          [...base, '--host-key', join(dir, 'hk'), '--audit-log', '/proc/nope/audit'],
          /--audit-log: cannot open/,
        ],
        [['relay', '--log-level', 'loud'], /--log-level/],
        [[...base, '--max-startups', '10:30'], /--max-startups: expected FULL or START:RATE:FULL/],
        [[...base, '--max-startups', '50:30:40'], /--max-startups: START \(50\) must not exceed/],
        [[...base, '--max-startups', '10:300:40'], /--max-startups: expected a whole number/],
        [[...base, '--per-source-penalties', 'authfail:soon'], /--per-source-penalties authfail:/],
        [[...base, '--per-source-penalties', 'crash:5s'], /--per-source-penalties: expected "no"/],
        [['nosuchcommand'], /unknown command/],
      ];
      for (const [args, want] of cases) {
        const r = await runCli(s, args, { BURROW_DATA_DIR: dir });
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, want, args.join(' '));
        assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
      }
      const help = await runCli(s, ['relay', '--help']);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /--authorized-keys/);
      assert.match(help.stdout, /BURROW_LISTEN/);
    }));

  it('uses BURROW_DATA_DIR defaults on first start', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      const proc = startCli(s, ['relay', '--listen', '127.0.0.1:0'], {
        env: { BURROW_DATA_DIR: dir },
      });
      await proc.waitForLine(/"event":"relay.started"/, { stream: 'stdout' });
      assert.equal(statSync(join(dir, 'relay_host_ed25519_key')).mode & 0o777, 0o600);
      assert.match(readFileSync(join(dir, 'authorized_keys'), 'utf8'), /permitlisten/);
      assert.match(proc.output('stderr'), /no usable keys/);
    }));

  it('drains on SIGTERM: agents are told to move, registrations refused, then it exits 0', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      const agentKey = await generateKey(dir, 'agent');
      writeFileSync(join(dir, 'authorized_keys'), `permitlisten="dev1:22" ${agentKey.publicKey}\n`);
      const relay = await startRelayCli(s, dir, ['--drain-grace', '10s']);
      const client = new ssh2.Client();
      s.defer(() => void client.destroy(), 'agent');
      const drained = new Promise<number>((resolve) => {
        client.on('global-request', (name) => {
          if (name === DRAIN_REQUEST) resolve(Date.now());
        });
        client.on('ready', () => client.forwardIn('dev1', 22, () => {}));
      });
      client.on('error', () => {});
      client.connect({
        host: '127.0.0.1',
        port: relay.port,
        username: 'x',
        privateKey: await readFile(agentKey.path, 'utf8'),
      });
      await relay.proc.waitForLine(/"event":"name.registered"/, { stream: 'stdout' });
      const sent = Date.now();
      relay.proc.signal('SIGTERM');
      const got = await drained;
      assert.ok(got - sent < 3000, `drain@burrow after ${got - sent} ms`);
      // While a name is still here the relay keeps accepting (clients can still reach it), but a
      // new registration is refused, with the reason sent ahead of the refusal.
      const second = new ssh2.Client();
      s.defer(() => void second.destroy(), 'second agent');
      const debug: string[] = [];
      second.on('debug-message', (m) => debug.push(m));
      const refusal = new Promise<Error | undefined>((resolve) => {
        second.on('ready', () => second.forwardIn('dev1', 22, (err) => resolve(err)));
      });
      second.on('error', () => {});
      second.connect({
        host: '127.0.0.1',
        port: relay.port,
        username: 'x',
        privateKey: await readFile(agentKey.path, 'utf8'),
      });
      assert.ok(await refusal, 'registration refused while draining');
      assert.deepEqual(debug, [`${FORWARD_REFUSED_PREFIX}relay-draining dev1:22`]);
      second.end();
      // The agent moves (here: leaves); the relay then exits long before the grace period.
      client.end();
      const exit = await relay.proc.stopped();
      assert.equal(exit.code, 0);
      assert.ok(Date.now() - sent < 8000, `exited after ${Date.now() - sent} ms`);
      const out = relay.proc.output('stdout');
      assert.match(out, /"event":"relay.draining"/);
      assert.match(out, /"event":"relay.stopped"/);
    }));

  it('finishes draining after the grace period even when devices stay', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      const devKey = await generateKey(dir, 'device');
      const sshd = await startSshd(s);
      writeFileSync(join(dir, 'authorized_keys'), `permitlisten="dev1:22" ${devKey.publicKey}\n`);
      const relay = await startRelayCli(s, dir, ['--drain-grace', '1s']);
      const hostKeyPub = publicKeyOf(join(dir, 'host_key'));
      const device = await relayClient(s, { port: relay.port, hostKeyPub }, devKey);
      // Stock OpenSSH ignores drain@burrow and stays; so does a socket that never says a word.
      const stock = device.spawn(['-N', '-R', `dev1:22:127.0.0.1:${sshd.port}`, 'relay']);
      await relay.proc.waitForLine(/"event":"name.registered"/, { stream: 'stdout' });
      const silent = connect(relay.port, '127.0.0.1');
      silent.on('error', () => {});
      silent.resume();
      s.defer(() => void silent.destroy(), 'silent socket');
      await new Promise((r) => silent.once('connect', r));
      const sent = Date.now();
      relay.proc.signal('SIGTERM');
      const exit = await within(relay.proc.stopped(), 8000, 'the relay to exit after draining');
      const took = Date.now() - sent;
      assert.equal(exit.code, 0);
      assert.ok(took >= 900 && took < 5000, `exited after ${took} ms`);
      const deviceExit = await stock.stopped();
      assert.equal(deviceExit.code, 255);
    }));

  it('reloads its policy on SIGHUP and never logs key material', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      const devKey = await generateKey(dir, 'device');
      const opKey = await generateKey(dir, 'operator');
      const sshd = await startSshd(s, { authorizedKeys: [opKey] });
      const policy = join(dir, 'authorized_keys');
      writeFileSync(policy, `permitlisten="dev1:22" ${devKey.publicKey}\n`);
      const relay = await startRelayCli(s, dir, ['--log-level', 'debug']);
      const hostKeyPub = publicKeyOf(join(dir, 'host_key'));
      const device = await relayClient(s, { port: relay.port, hostKeyPub }, devKey);
      device.spawn(['-N', '-R', `dev1:22:127.0.0.1:${sshd.port}`, 'relay']);
      await relay.proc.waitForLine(/"event":"name.registered"/, { stream: 'stdout' });
      // The operator is not in the policy yet; after SIGHUP it is.
      const op = await relayClient(s, { port: relay.port, hostKeyPub }, opKey, [
        { name: 'dev1', hostKeyPub: sshd.hostKeyPub },
      ]);
      assert.equal((await op.run(['dev1', 'true'])).code, 255);
      writeFileSync(
        policy,
        `permitlisten="dev1:22" ${devKey.publicKey}\npermitopen="dev1:22" ${opKey.publicKey}\n`,
      );
      relay.proc.signal('SIGHUP');
      const r = await waitFor(
        async () => {
          const res = await op.run(['dev1', 'echo', 'reloaded']);
          return res.code === 0 ? res : undefined;
        },
        { what: 'the operator key to work after SIGHUP' },
      );
      assert.equal(r.stdout.trim(), 'reloaded');
      assert.match(relay.proc.output('stderr'), /SIGHUP: reloading policy/);

      const everything = relay.proc.output('any');
      assert.doesNotMatch(everything, /PRIVATE KEY/);
      for (const file of [join(dir, 'host_key'), devKey.path, opKey.path]) {
        const body = readFileSync(file, 'utf8')
          .split('\n')
          .filter((l) => l && !l.startsWith('-----'));
        for (const line of body)
          assert.ok(!everything.includes(line), `key material from ${file} logged`);
      }
    }));
});
