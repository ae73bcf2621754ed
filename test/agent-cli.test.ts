/**
 * `burrow agent` as a process: refusals that exit 2 with one line, flag validation, host key
 * trust, status, config file and environment, per-channel target refusals, a stock OpenSSH device
 * beside an agent, and no key material in logs.
 */
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type Fleet, startFleet } from './helpers/fleet.js';
import {
  freePort,
  generateKey,
  type RunResult,
  runCommand,
  type Scope,
  startProc,
  tmpDir,
  waitFor,
  withScope,
} from './helpers/index.js';
import { CLI_PATH, startCli } from './helpers/relay.js';

function runCli(s: Scope, args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return runCommand(s, process.execPath, [CLI_PATH, ...args], { env, timeoutMs: 20_000 });
}

/** The agent's flags for dev1 on the fleet's relays, minus anything in `omit`. */
function agentArgs(fleet: Fleet, extra: string[] = []): string[] {
  return [
    'agent',
    '--name',
    'dev1',
    '--relay',
    fleet.relays.map((r) => r.id).join(','),
    '--identity',
    fleet.devKey.path,
    '--forward',
    `22=127.0.0.1:${fleet.sshd.port}`,
    '--known-hosts',
    fleet.knownHosts,
    '--status-file',
    fleet.statusFile,
    ...extra,
  ];
}

/** Exit 2, and the last stderr line is one plain sentence matching `re`. */
function assertRefused(r: RunResult, re: RegExp): void {
  assert.equal(r.code, 2, `exit status 2, got ${r.code}: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  const last = lines.at(-1) ?? '';
  assert.match(last, /^burrow( agent)?: /);
  assert.match(last, re);
  const plain = lines.filter((l) => !l.startsWith('{'));
  assert.equal(plain.length, 1, `exactly one plain line on stderr:\n${r.stderr}`);
}

describe('burrow agent (CLI)', () => {
  it('exits 2 with one line when the relay host key does not match the pinned key', async (t) =>
    withScope(t, async (s) => {
      const fleet = await startFleet(s, { relays: 1 });
      const other = await generateKey(fleet.dir, 'other_host');
      const r = await runCli(s, agentArgs(fleet, ['--relay-host-key', other.publicKey]));
      assertRefused(r, /does not match --relay-host-key/);
      assert.match(r.stderr, /SHA256:/);
    }));

  it('exits 2 when the host key is not in known_hosts, and --accept-new records it', async (t) =>
    withScope(t, async (s) => {
      const fleet = await startFleet(s, { relays: 1 });
      const kh = join(fleet.dir, 'fresh_known_hosts');
      const unknown = await runCli(s, agentArgs(fleet, ['--known-hosts', kh]));
      assertRefused(unknown, /is not known: pin it with --relay-host-key.*--accept-new/);

      const agent = fleet.startAgent(['--known-hosts', kh, '--accept-new']);
      await agent.waitForLine(/registered on/, { stream: 'stderr' });
      const relay = fleet.relays[0]!;
      assert.equal(
        readFileSync(kh, 'utf8'),
        `[127.0.0.1]:${relay.port} ${relay.hostKey.publicKey}\n`,
      );
      assert.equal(await fleet.reach(relay), true);
    }));

  it('exits 2 with one line when the relay does not permit the name', async (t) =>
    withScope(t, async (s) => {
      const fleet = await startFleet(s, {
        relays: 2,
        policy: (dev) => [`permitlisten="dev2:22" ${dev}`],
      });
      const r = await runCli(s, agentArgs(fleet));
      assertRefused(r, /does not permit this key to register dev1:22.*permitlisten="dev1:22"/);
      const status = JSON.parse(readFileSync(fleet.statusFile, 'utf8'));
      assert.equal(status.exit.code, 2);
    }));

  it('exits 2 with one line when every relay refuses the key', async (t) =>
    withScope(t, async (s) => {
      const fleet = await startFleet(s, { relays: 2, policy: () => [] });
      const r = await runCli(s, agentArgs(fleet));
      assertRefused(r, /refused this device's key: add its public key/);
    }));

  it('rejects bad flags with exit 2 and a line naming the flag', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      const key = await generateKey(dir, 'dev');
      const base = ['agent', '--name', 'dev1', '--relay', '127.0.0.1:2222', '--identity', key.path];
      const loose = join(dir, 'loose_key');
      writeFileSync(loose, readFileSync(key.path));
      chmodSync(loose, 0o644);
      const pub = join(dir, 'pub_as_identity');
      writeFileSync(pub, readFileSync(key.pubPath), { mode: 0o600 });
      const cases: [string[], RegExp][] = [
        [['agent', '--relay', '127.0.0.1:1', '--identity', key.path], /--name is required/],
        [['agent', '--name', 'dev1', '--identity', key.path], /--relay is required/],
        [['agent', '--name', 'dev1', '--relay', '127.0.0.1:1'], /--identity is required/],
        [[...base, '--name', '1.2.3.4'], /--name: .*not a name/],
        [[...base, '--relay', 'h:99999'], /--relay: expected HOST:PORT/],
        [[...base, '--relay', 'a:1,a:1'], /--relay: a:1 is listed twice/],
        [[...base, '--forward', '22'], /--forward: expected PORT=HOST:PORT/],
        [
          [...base, '--forward', '22=a:1', '--forward', '22=b:2'],
          /--forward: port 22 is given twice/,
        ],
        [[...base, '--keepalive-interval', 'soon'], /--keepalive-interval: expected a duration/],
        [[...base, '--keepalive-count', '0'], /--keepalive-count: expected a whole number/],
        [[...base, '--relay-host-key', 'ssh-ed25519 nope'], /--relay-host-key/],
        [[...base, '--identity', join(dir, 'missing')], /--identity: cannot read .*ENOENT/],
        [[...base, '--identity', loose], /--identity: .* readable by other users.*chmod 600/],
        [[...base, '--identity', pub], /--identity: .*not a (usable )?private key/],
        [[...base, '--bogus'], /unknown option '--bogus'/],
        [[...base, '--log-level', 'loud'], /--log-level/],
      ];
      for (const [args, re] of cases) {
        const r = await runCli(s, args, { BURROW_DATA_DIR: dir });
        assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}: ${r.stderr}`);
        assert.match(r.stderr, re, args.join(' '));
        assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      }
    }));

  it('reports status: relay in use, since, reconnects, last error; 3 once stopped', async (t) =>
    withScope(t, async (s) => {
      const fleet = await startFleet(s, { relays: 2 });
      const agent = fleet.startAgent();
      await agent.waitForLine(/registered on/, { stream: 'stderr' });
      const inUse = fleet.relays.find(
        (r) => r.id === agent.output('stderr').match(/registered on (\S+)"/)?.[1],
      );
      assert.ok(inUse);
      await inUse.kill();
      await waitFor(async () => (await fleet.status()).state.reconnects === 1, {
        what: 'a reconnect',
      });
      const args = ['agent', 'status', '--status-file', fleet.statusFile];
      const r = await runCli(s, args);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^agent dev1: connected$/m);
      assert.match(r.stdout, /relay: +127\.0\.0\.1:\d+ since \d{4}-\d\d-\d\dT/);
      assert.match(r.stdout, /reconnects: 1/);
      assert.match(r.stdout, new RegExp(`last error: lost the connection to ${inUse.id}`));
      const json = JSON.parse((await runCli(s, [...args, '--json'])).stdout);
      assert.equal(json.running, true);
      assert.equal(json.state.phase, 'connected');

      agent.signal('SIGTERM');
      assert.equal((await agent.stopped()).code, 0);
      const after = await runCli(s, args);
      assert.equal(after.code, 3);
      assert.match(after.stdout, /not running/);
      const byName = await runCli(s, ['agent', 'status', '--name', 'nobody'], {
        BURROW_DATA_DIR: fleet.dir,
      });
      assert.equal(byName.code, 3);
      assert.match(byName.stderr, /no agent status at .*agent-nobody\.json/);
    }));

  it('reads settings from a config file and BURROW_* variables, flags winning', async (t) =>
    withScope(t, async (s) => {
      const fleet = await startFleet(s, { relays: 1 });
      const relay = fleet.relays[0]!;
      const conf = join(fleet.dir, 'agent.conf');
      writeFileSync(
        conf,
        [
          '# dev1 on the test relay',
          'name dev1',
          `relay 127.0.0.1:${await freePort()}`, // overridden by the environment below
          `identity ${fleet.devKey.path}`,
          `forward 22=127.0.0.1:${fleet.sshd.port}`,
          `known-hosts ${fleet.knownHosts}`,
          `status-file ${fleet.statusFile}`,
          'keepalive-interval 3s',
        ].join('\n'),
      );
      startCli(s, ['agent', '--config', conf, '--keepalive-count', '3'], {
        env: { BURROW_RELAY: relay.id, BURROW_DATA_DIR: fleet.dir, BURROW_KEEPALIVE_COUNT: '9' },
      });
      await fleet.waitReachable(relay);
      const st = await fleet.status();
      assert.equal(st.state.relay, relay.id);
      const settings = JSON.parse(readFileSync(fleet.statusFile, 'utf8'));
      assert.equal(settings.name, 'dev1');
      const bad = join(fleet.dir, 'bad.conf');
      writeFileSync(bad, 'name dev1\nrelya x:1\n');
      const r = await runCli(s, ['agent', '--config', bad]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /bad\.conf:2: unknown setting "relya"/);
    }));

  it('reports a refusing local target on that channel only', async (t) =>
    withScope(t, async (s) => {
      const fleet = await startFleet(s, {
        relays: 1,
        policy: (dev, op) => [`permitlisten="dev1:*" ${dev}`, `permitopen="dev1:*" ${op}`],
      });
      const closed = await freePort();
      const agent = fleet.startAgent(['--forward', `8080=127.0.0.1:${closed}`]);
      await agent.waitForLine(/registered on/, { stream: 'stderr' });
      const relay = fleet.relays[0]!;
      const refused = await fleet.op.run(['-W', 'dev1:8080', relay.alias], { timeoutMs: 10_000 });
      assert.equal(refused.code, 255);
      assert.match(refused.stderr, /stdio forwarding failed|open failed|connect failed/i);
      await agent.waitForLine(
        /local target 127\.0\.0\.1:\d+ refused a connection \(ECONNREFUSED\)/,
        {
          stream: 'stderr',
        },
      );
      assert.equal(await fleet.reach(relay), true, 'port 22 still served');
      assert.equal(agent.exit, undefined);
      assert.equal((await fleet.status()).state.reconnects, 0, 'the relay link was not affected');
    }));

  it('works beside a stock OpenSSH device under autossh, and never logs key material', async (t) =>
    withScope(t, async (s) => {
      const fleet = await startFleet(s, {
        relays: 1,
        policy: (dev, op) => [`permitlisten="dev*:22" ${dev}`, `permitopen="dev*:22" ${op}`],
      });
      const relay = fleet.relays[0]!;
      const agent = fleet.startAgent(['--log-level', 'debug']);
      await agent.waitForLine(/registered on/, { stream: 'stderr' });
      // dev2: the zero-code recipe, autossh + ssh -R with the same kind of key.
      const device = fleet.op; // reuse its ssh_config (relay aliases, host keys)
      startProc(
        s,
        'autossh',
        [
          '-M',
          '0',
          ...device.args(
            '-i',
            fleet.devKey.path,
            '-N',
            '-o',
            'ServerAliveInterval=5',
            '-R',
            `dev2:22:127.0.0.1:${fleet.sshd.port}`,
            relay.alias,
          ),
        ],
        { env: { AUTOSSH_GATETIME: '0' }, name: 'autossh' },
      );
      device.addHost({ alias: 'dev2', hostName: null, user: 'root', hostKeyAlias: 'dev1' });
      await waitFor(
        async () =>
          (await device.run(['-J', relay.alias, 'dev2', 'true'], { timeoutMs: 5000 })).code === 0,
        { what: 'dev2 (autossh) reachable', timeoutMs: 15_000, intervalMs: 200 },
      );
      assert.equal(await fleet.reach(relay), true, 'dev1 (agent) reachable too');
      const secret = readFileSync(fleet.devKey.path, 'utf8')
        .split('\n')
        .filter((l) => l && !l.startsWith('-----'));
      const log = agent.output('stderr');
      for (const line of secret) assert.ok(!log.includes(line), 'private key material in the log');
    }));

  it('systemd-unit prints a hardened unit that systemd-analyze accepts', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      const key = await generateKey(dir, 'dev');
      const args = [
        'agent',
        'systemd-unit',
        '--name',
        'dev1',
        '--relay',
        'r1.example,r2.example:2200',
      ];
      const r = await runCli(s, [
        ...args,
        '--identity',
        key.path,
        '--forward',
        '2222=127.0.0.1:22',
        '--metrics-listen',
        '127.0.0.1:9464',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const unit = r.stdout;
      for (const line of [
        'Restart=always',
        'RestartSec=1',
        'StartLimitIntervalSec=0',
        'RestartPreventExitStatus=2',
        'NoNewPrivileges=yes',
        'ProtectSystem=strict',
        'DynamicUser=yes',
        `LoadCredential=identity:${key.path}`,
      ]) {
        assert.ok(unit.split('\n').includes(line), `unit has ${line}`);
      }
      const exec = unit.split('\n').find((l) => l.startsWith('ExecStart='));
      assert.ok(exec);
      assert.match(exec, /"--relay" "r1\.example:2222,r2\.example:2200"/);
      assert.match(exec, /"--identity" "%d\/identity"/);
      assert.match(exec, /"--forward" "2222=127\.0\.0\.1:22"/);
      assert.match(exec, /"--metrics-listen" "127\.0\.0\.1:9464"/);
      const file = join(dir, 'burrow-agent-dev1.service');
      writeFileSync(file, unit);
      const verify = await runCommand(s, 'systemd-analyze', ['verify', file], {
        timeoutMs: 30_000,
      });
      assert.equal(verify.code, 0, verify.stderr);
      assert.doesNotMatch(verify.stderr, /burrow-agent-dev1/);
      // The same validation as the agent itself: a bad flag is exit 2, before any output.
      const bad = await runCli(s, [...args, '--identity', key.path, '--forward', 'x']);
      assert.equal(bad.code, 2);
      assert.equal(bad.stdout, '');
      assert.match(bad.stderr, /--forward: expected PORT=HOST:PORT/);
    }));

  it('keeps retrying, without crashing, against servers that speak garbage or nothing', async (t) =>
    withScope(t, async (s) => {
      const fleet = await startFleet(s, { relays: 1 });
      const open = new Set<Socket>();
      const track = (sock: Socket) => {
        open.add(sock);
        sock.on('close', () => open.delete(sock));
        sock.on('error', () => {});
      };
      const junk = createServer((sock) => {
        track(sock);
        sock.end('SSH-2.0-x\r\n\x00\x00\x00\x0c\x0a garbage garbage garbage\r\n');
      });
      const silent = createServer(track);
      for (const srv of [junk, silent]) {
        await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
        s.defer(() => new Promise<void>((r) => srv.close(() => r())), 'server');
      }
      s.defer(() => {
        for (const sock of open) sock.destroy();
      }, 'server sockets');
      const port = (srv: typeof junk) => (srv.address() as { port: number }).port;
      const relays = `127.0.0.1:${port(junk)},127.0.0.1:${port(silent)}`;
      const agent = fleet.startAgent(['--relay', relays, '--connect-timeout', '500ms']);
      await waitFor(async () => (await fleet.status()).state.consecutiveFailures >= 4, {
        what: 'several failed attempts',
        timeoutMs: 15_000,
      });
      assert.equal(agent.exit, undefined, 'still running');
      const err = agent.output('stderr');
      assert.match(err, /no answer within 500 ms/);
      assert.doesNotMatch(err, /\n\s+at /, 'no stack trace');
      agent.signal('SIGTERM');
      assert.equal((await agent.stopped()).code, 0);
    }));
});
