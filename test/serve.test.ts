/**
 * `burrow serve` as a newcomer runs it: one process holding a relay and the coordinator on the
 * in-memory registry, a device registered with plain `ssh -N -R`, an operator reaching it with
 * `ssh -J`, the API and `burrow ls` (table, --json, a prefix, --limit) listing it, a clean
 * SIGTERM, a port in use, bad flags, and the README's first command as written.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { REGISTRY_NAME_KEY } from '../src/core/constants.js';
import {
  fingerprintOf,
  generateKey,
  runCommand,
  type Scope,
  startProc,
  startSshd,
  tmpDir,
  waitFor,
  withScope,
} from './helpers/index.js';
import { startRedis } from './helpers/redis.js';
import { CLI_PATH, relayClient } from './helpers/relay.js';
import { ls, startServe, tableRows } from './helpers/serve.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

async function listen(s: Scope): Promise<number> {
  const holder: Server = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  s.defer(() => new Promise<void>((resolve) => holder.close(() => resolve())), 'port holder');
  return (holder.address() as { port: number }).port;
}

describe('burrow serve', () => {
  it('relays a device registered with ssh -R to ssh -J, lists it in /v1/names and burrow ls, and stops on SIGTERM', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      const dev = await generateKey(dir, 'device');
      const op = await generateKey(dir, 'operator');
      writeFileSync(
        join(dir, 'authorized_keys'),
        `permitlisten="dev1:22",permitlisten="dev2:22" ${dev.publicKey}\npermitopen="*:22" ${op.publicKey}\n`,
      );
      const sshd = await startSshd(s, { authorizedKeys: [op] });
      const serve = await startServe(s, dir);

      const relay = { port: serve.sshPort, hostKeyPub: serve.hostKey.publicKey };
      const device = await relayClient(s, relay, dev);
      const operator = await relayClient(s, relay, op, [
        { name: 'dev1', hostKeyPub: sshd.hostKeyPub },
      ]);
      const tunnel = device.spawn(
        [
          ...['-N', '-o', 'ExitOnForwardFailure=yes'],
          ...['-R', `dev1:22:127.0.0.1:${sshd.port}`, '-R', `dev2:22:127.0.0.1:${sshd.port}`],
          'relay',
        ],
        { name: 'device ssh -R' },
      );
      await waitFor(
        () => {
          if (tunnel.exit) throw new Error(`ssh -R exited: ${tunnel.tail()}`);
          return (serve.proc.output('stdout').match(/name\.registered/g) ?? []).length === 2;
        },
        { what: 'dev1 and dev2 to be registered' },
      );

      const reached = await operator.run(['dev1', 'echo', 'hello from dev1']);
      assert.equal(reached.code, 0, reached.stderr);
      assert.equal(reached.stdout.trim(), 'hello from dev1');

      // The URL printed serves the status page, which finds dev1, and /metrics counts the relay.
      const page = await fetch(`${serve.url}/?q=dev1`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      const html = await page.text();
      assert.match(html, /<title>burrow · 1 up/);
      assert.ok(html.includes(dev.fingerprint), 'the page shows who holds dev1');
      const metrics = await (await fetch(`${serve.url}/metrics`)).text();
      assert.match(metrics, /^burrow_coordinator_relays\{state="up"\} 1$/m);

      // The coordinator in the same process sees what the relay holds.
      const res = await fetch(`${serve.url}/v1/names`);
      assert.equal(res.status, 200);
      const api = (await res.json()) as { names: Record<string, unknown>[]; cursor?: string };
      assert.equal(api.cursor, undefined);
      const relayId = /AUDIT relay\.started relay=(\S+)/.exec(serve.proc.output('stdout'))?.[1];
      assert.ok(relayId, 'relay.started names the relay');
      assert.deepEqual(
        api.names.map((n) => [n.name, n.relay, n.ports, n.owner]),
        ['dev1', 'dev2'].map((name) => [
          name,
          { id: relayId, address: `127.0.0.1:${serve.sshPort}` },
          [22],
          dev.fingerprint,
        ]),
      );

      const table = await ls(s, ['--coordinator', serve.url]);
      assert.equal(table.code, 0, table.stderr);
      assert.equal(table.stderr, '');
      const rows = tableRows(table.stdout);
      assert.deepEqual(rows[0], ['NAME', 'RELAY', 'PORTS', 'OWNER', 'SINCE']);
      assert.deepEqual(
        rows.slice(1).map((r) => r.slice(0, 4)),
        ['dev1', 'dev2'].map((n) => [n, `127.0.0.1:${serve.sshPort}`, '22', dev.fingerprint]),
      );
      for (const r of rows.slice(1)) assert.match(r[4] ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      // Columns line up: every row has OWNER where the header has it.
      const at = table.stdout.indexOf('OWNER');
      for (const line of table.stdout.trimEnd().split('\n').slice(1)) {
        assert.equal(line.indexOf('SHA256:'), at, line);
      }

      const json = await ls(s, ['--coordinator', serve.url, '--json']);
      assert.equal(json.code, 0, json.stderr);
      assert.deepEqual(JSON.parse(json.stdout), api.names);
      assert.equal(json.stdout.trimEnd().split('\n').length, 4, 'one name per line');

      const prefixed = await ls(s, ['--coordinator', serve.url, '--json', 'dev2']);
      assert.deepEqual(
        (JSON.parse(prefixed.stdout) as { name: string }[]).map((n) => n.name),
        ['dev2'],
      );
      const limited = await ls(s, ['--coordinator', serve.url, '--limit', '1']);
      assert.deepEqual(
        tableRows(limited.stdout).map((r) => r[0]),
        ['NAME', 'dev1'],
      );
      const none = await ls(s, ['--coordinator', serve.url, 'nomatch']);
      assert.equal(none.code, 0, none.stderr);
      assert.deepEqual(tableRows(none.stdout), [['NAME', 'RELAY', 'PORTS', 'OWNER', 'SINCE']]);
      const noneJson = await ls(s, ['--coordinator', serve.url, '--json', 'nomatch']);
      assert.deepEqual(JSON.parse(noneJson.stdout), []);

      // SIGTERM: the relay drains (the bare ssh -R does not move; the grace period ends it),
      // then the HTTP listener closes and the process exits 0.
      const sent = Date.now();
      serve.proc.signal('SIGTERM');
      const exit = await serve.proc.stopped();
      assert.equal(exit.code, 0, serve.proc.tail());
      assert.ok(Date.now() - sent < 10_000, `stopped ${Date.now() - sent} ms after SIGTERM`);
      assert.match(serve.proc.output('stderr'), /draining: agents are asked to move/);
      assert.match(serve.proc.output('stderr'), /relay stopped/);
      assert.match(serve.proc.output('stdout'), /AUDIT relay\.stopped/);
      await assert.rejects(fetch(`${serve.url}/healthz`), 'the HTTP port is closed');
      const gone = await ls(s, ['--coordinator', serve.url]);
      assert.equal(gone.code, 1);
      assert.equal(
        gone.stderr,
        `burrow: cannot reach the coordinator at ${serve.url}: connection refused\n`,
      );
    }));

  it('with --registry redis://…, records names in Redis and lists them from there', async (t) =>
    withScope(t, async (s) => {
      const redis = await startRedis(s);
      const dir = await tmpDir(s);
      const dev = await generateKey(dir, 'device');
      writeFileSync(join(dir, 'authorized_keys'), `permitlisten="dev3:22" ${dev.publicKey}\n`);
      const serve = await startServe(s, dir, ['--registry', redis.url]);
      const device = await relayClient(
        s,
        { port: serve.sshPort, hostKeyPub: serve.hostKey.publicKey },
        dev,
      );
      const tunnel = device.spawn([
        '-N',
        '-o',
        'ExitOnForwardFailure=yes',
        '-R',
        'dev3:22:127.0.0.1:9',
        'relay',
      ]);
      await waitFor(
        () => {
          if (tunnel.exit) throw new Error(`ssh -R exited: ${tunnel.tail()}`);
          return redis.cli('HGET', `${REGISTRY_NAME_KEY}dev3`, 'owner') === dev.fingerprint;
        },
        { what: 'dev3 to be recorded in Redis' },
      );
      const json = await ls(s, ['--coordinator', serve.url, '--json']);
      assert.equal(json.code, 0, json.stderr);
      assert.deepEqual(
        (JSON.parse(json.stdout) as { name: string; owner: string }[]).map((n) => [
          n.name,
          n.owner,
        ]),
        [['dev3', dev.fingerprint]],
      );
    }));

  it('says which port is in use, SSH or HTTP, in one line, and exits 1', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      writeFileSync(join(dir, 'authorized_keys'), '');
      const held = await listen(s);
      const base = ['serve', '--authorized-keys', join(dir, 'authorized_keys')];
      const env = { BURROW_DATA_DIR: dir };
      for (const [flags, want] of [
        [
          ['--listen', `127.0.0.1:${held}`, '--http', '127.0.0.1:0'],
          `burrow: cannot listen on 127.0.0.1:${held}: address in use (by pid ${process.pid}: `,
        ],
        [
          ['--listen', '127.0.0.1:0', '--http', `127.0.0.1:${held}`],
          `burrow: --http: cannot listen on 127.0.0.1:${held}: address in use (by pid ${process.pid}: `,
        ],
      ] as const) {
        const r = await runCommand(s, process.execPath, [CLI_PATH, ...base, ...flags], {
          env,
          timeoutMs: 15_000,
        });
        assert.equal(r.code, 1, r.stderr);
        const plain = r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('{'));
        assert.equal(plain.length, 1, r.stderr);
        assert.ok(plain[0]?.startsWith(want), `${plain[0]}\nwanted it to start with ${want}`);
        assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
      }
    }));

  it('refuses bad flags with exit 2 and a clear line', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      const cases: [string[], RegExp][] = [
        [['serve', '--http', 'nope'], /^burrow: --http: expected HOST:PORT/],
        [['serve', '--listen', 'nope'], /^burrow: --listen: expected HOST:PORT/],
        [
          ['serve', '--api-token-file', join(dir, 'missing')],
          /^burrow: --api-token-file: cannot read/,
        ],
        [
          ['serve', '--keepalive-interval', 'soon'],
          /^burrow: --keepalive-interval: expected a duration/,
        ],
        [
          ['ls', '--coordinator', 'ftp://x'],
          /^burrow: --coordinator: expected an http:\/\/ or https:\/\/ URL/,
        ],
        [['ls', '--limit', '0'], /^burrow: --limit: expected a whole number/],
        [['ls', '--token-file', join(dir, 'missing')], /^burrow: --token-file: cannot read/],
      ];
      for (const [args, want] of cases) {
        const r = await runCommand(s, process.execPath, [CLI_PATH, ...args], {
          env: { BURROW_DATA_DIR: dir },
          timeoutMs: 15_000,
        });
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, want, args.join(' '));
        assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
      }
    }));
});

describe("the README's first command", () => {
  it('`npx burrow serve` in the clone serves SSH on :2222 and the page on 127.0.0.1:8080', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      // In a network namespace of its own, so the default ports are free whatever else runs
      // here; npm is told to stay offline (npx links the clone into its cache, no download).
      const proc = startProc(
        s,
        'unshare',
        ['--net', 'sh', '-c', 'ip link set lo up && exec npx burrow serve'],
        {
          cwd: ROOT,
          env: { BURROW_DATA_DIR: dir, BURROW_LOG_FORMAT: 'text', npm_config_offline: 'true' },
          name: 'npx burrow serve',
        },
      );
      const m = await proc.waitForLine(
        /serving: ssh 0\.0\.0\.0:2222 \(host key (SHA256:\S+)\), status page http:\/\/127\.0\.0\.1:8080\/$/,
        { stream: 'stderr', timeoutMs: 120_000 },
      );
      assert.equal(m[1], await fingerprintOf(join(dir, 'relay_host_ed25519_key')));
      // `burrow ls` with its default coordinator, in the same namespace, reaches it.
      const listed = await runCommand(s, 'nsenter', [
        ...['--net', `--target=${proc.pid}`, process.execPath, CLI_PATH, 'ls'],
      ]);
      assert.equal(listed.code, 0, listed.stderr);
      assert.equal(listed.stdout, 'NAME  RELAY  PORTS  OWNER  SINCE\n');
      // Ctrl-C in its terminal: SIGINT to the whole foreground group.
      proc.signal('SIGINT', { group: true });
      await proc.stopped();
      assert.match(proc.output('stderr'), /relay stopped/);
    }));
});
