/**
 * Prometheus metrics as an operator scrapes them: `burrow relay --metrics-listen`, `burrow agent
 * --metrics-listen` and the coordinator's `GET /metrics`, each read over HTTP and parsed by a real
 * Prometheus text-format parser, with counters moved by real traffic: a stock `ssh -R` device, an
 * `ssh -J` operator, refused registrations and connections, an agent whose relay is killed, and a
 * two-relay cluster on a real redis-server reached through a peer link.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FAST_CLUSTER, startCluster } from './helpers/cluster.js';
import { startCoordinatorCli } from './helpers/coordinator.js';
import { startFleet } from './helpers/fleet.js';
import {
  createSshClient,
  generateKey,
  runCommand,
  type Scope,
  tmpDir,
  waitFor,
  withScope,
} from './helpers/index.js';
import { metricsUrlOf, type Scrape, scrape } from './helpers/metrics.js';
import { CLI_PATH, relayCliArgs, startCli } from './helpers/relay.js';

/** Polls `url` until `ok` holds for a scrape; returns that scrape. */
async function scrapeUntil(url: string, what: string, ok: (m: Scrape) => boolean, token?: string) {
  return waitFor(
    async () => {
      const m = await scrape(url, token);
      return ok(m) ? m : undefined;
    },
    { what, timeoutMs: 15_000 },
  );
}

function runCli(s: Scope, args: string[], env: Record<string, string> = {}) {
  return runCommand(s, process.execPath, [CLI_PATH, ...args], { env, timeoutMs: 15_000 });
}

const TOKEN = 'metrics-test-token-7f3e1a';

describe('metrics', () => {
  it('relay: /metrics parses, and moves with a real device, operator and refusals', async (t) =>
    withScope(t, async (s) => {
      const fleet = await startFleet(s, { relays: 1 });
      const relay = fleet.relays[0]!;
      await relay.kill();
      const url = await metricsUrlOf(await relay.start(['--metrics-listen', '127.0.0.1:0']));

      let m = await scrape(url);
      const types: [string, string][] = [
        ['burrow_relay_devices', 'GAUGE'],
        ['burrow_relay_names', 'GAUGE'],
        ['burrow_relay_draining', 'GAUGE'],
        ['burrow_relay_registrations_total', 'COUNTER'],
        ['burrow_relay_client_connections_total', 'COUNTER'],
        ['burrow_relay_bytes_total', 'COUNTER'],
        ['burrow_relay_refusals_total', 'COUNTER'],
        ['burrow_relay_peer_links', 'GAUGE'],
        ['burrow_relay_peer_dial_errors_total', 'COUNTER'],
        ['burrow_relay_registry_seconds', 'HISTOGRAM'],
        ['burrow_relay_registry_errors_total', 'COUNTER'],
        ['burrow_relay_heartbeat_age_seconds', 'GAUGE'],
        ['burrow_process_cpu_seconds_total', 'COUNTER'],
        ['burrow_process_resident_memory_bytes', 'GAUGE'],
        ['burrow_nodejs_eventloop_lag_seconds', 'GAUGE'],
      ];
      for (const [name, type] of types) assert.equal(m.family(name).type, type, name);
      assert.equal(m.value('burrow_relay_names'), 0);
      assert.equal(m.value('burrow_relay_draining'), 0);
      assert.ok(m.value('burrow_process_resident_memory_bytes') > 10_000_000);
      // The memory registry is timed like Redis: the first heartbeat has been recorded.
      const hb = m.value('burrow_relay_heartbeat_age_seconds');
      assert.ok(hb >= 0 && hb < 10, `heartbeat age ${hb}`);

      // A stock OpenSSH device registers dev1.
      const device = await createSshClient(s, { identity: fleet.devKey });
      device.addHost({
        alias: 'relay1',
        port: relay.port,
        user: 'burrow',
        hostKey: relay.hostKey.publicKey,
      });
      device.spawn(
        [
          ...['-N', '-o', 'ExitOnForwardFailure=yes'],
          ...['-R', `dev1:22:127.0.0.1:${fleet.sshd.port}`, 'relay1'],
        ],
        { name: 'device dev1' },
      );
      m = await scrapeUntil(url, 'dev1 counted', (x) => x.value('burrow_relay_names') === 1);
      assert.equal(m.value('burrow_relay_devices'), 1);
      assert.equal(m.value('burrow_relay_registrations_total', { result: 'accepted' }), 1);
      assert.ok(m.value('burrow_relay_registry_seconds', { op: 'claim' }) >= 1);
      assert.equal(m.value('burrow_relay_registry_errors_total', { op: 'claim' }), 0);
      const before = {
        sent: m.value('burrow_relay_bytes_total', { direction: 'sent' }),
        received: m.value('burrow_relay_bytes_total', { direction: 'received' }),
      };

      // The operator reaches it with -J and reads 300 kB from the device.
      const r = await fleet.op.run(['-J', 'relay1', 'dev1', 'head -c 300000 /dev/zero'], {
        timeoutMs: 15_000,
      });
      assert.equal(r.code, 0, r.stderr);
      m = await scrapeUntil(
        url,
        'the bridge to be counted when it ends',
        (x) => x.value('burrow_relay_bridged_bytes_total', { direction: 'from-device' }) > 300_000,
      );
      assert.equal(
        m.value('burrow_relay_client_connections_total', { path: 'local', result: 'bridged' }),
        1,
      );
      assert.ok(m.value('burrow_relay_bridged_bytes_total', { direction: 'to-device' }) > 0);
      // The 300 kB came in from the device and went out to the operator.
      for (const direction of ['received', 'sent'] as const) {
        const n = m.value('burrow_relay_bytes_total', { direction }) - before[direction];
        assert.ok(n > 300_000, `${direction} ${n} bytes`);
      }

      // A registration the policy does not permit, and a connection it does not permit.
      const refused = await device.run(
        ['-N', '-o', 'ExitOnForwardFailure=yes', '-R', 'dev2:22:127.0.0.1:9', 'relay1'],
        { timeoutMs: 15_000 },
      );
      assert.notEqual(refused.code, 0, 'ssh -R dev2 is refused');
      const w = await fleet.op.run(['-W', 'dev2:22', 'relay1'], { timeoutMs: 15_000 });
      assert.notEqual(w.code, 0, 'ssh -W dev2:22 is refused');
      m = await scrapeUntil(
        url,
        'both refusals counted',
        (x) =>
          x.value('burrow_relay_refusals_total', { kind: 'connect', reason: 'not-permitted' }) ===
          1,
      );
      assert.equal(
        m.value('burrow_relay_refusals_total', { kind: 'register', reason: 'not-permitted' }),
        1,
      );
      assert.equal(m.value('burrow_relay_registrations_total', { result: 'refused' }), 1);
      assert.equal(
        m.value('burrow_relay_client_connections_total', {
          path: 'local',
          result: 'not-permitted',
        }),
        1,
      );
      // Bounded labels: no series names a device, a key or an address.
      assert.doesNotMatch(m.text, /dev1|dev2|127\.0\.0\.1|SHA256/);

      // Only GET /metrics is served.
      const base = url.replace(/\/metrics$/, '');
      assert.equal((await fetch(`${base}/`)).status, 404);
      assert.equal((await fetch(`${base}/metrics/x`)).status, 404);
      assert.equal((await fetch(url, { method: 'POST', body: 'x' })).status, 405);
    }));

  it('agent: state, reconnects and registration age move when its relay dies', async (t) =>
    withScope(t, async (s) => {
      const fleet = await startFleet(s, { relays: 2 });
      const agent = fleet.startAgent(['--metrics-listen', '127.0.0.1:0']);
      const url = await metricsUrlOf(agent);
      let m = await scrapeUntil(
        url,
        'the agent to be connected',
        (x) => x.value('burrow_agent_state', { state: 'connected' }) === 1,
      );
      assert.equal(m.family('burrow_agent_reconnects_total').type, 'COUNTER');
      assert.equal(m.value('burrow_agent_reconnects_total'), 0);
      assert.equal(m.value('burrow_agent_state', { state: 'waiting' }), 0);
      const age = m.value('burrow_agent_last_registration_age_seconds');
      assert.ok(age >= 0 && age < 15, `registration age ${age}`);
      assert.ok(m.value('burrow_process_resident_memory_bytes') > 0);

      const serving = (await fleet.status()).state.relay;
      const dead = fleet.relays.find((r) => r.id === serving);
      assert.ok(dead, `the agent serves on a fleet relay (${serving})`);
      await dead.kill();
      m = await scrapeUntil(
        url,
        'the reconnect to be counted',
        (x) =>
          x.value('burrow_agent_reconnects_total') === 1 &&
          x.value('burrow_agent_state', { state: 'connected' }) === 1,
      );
      const after = m.value('burrow_agent_last_registration_age_seconds');
      assert.ok(after >= 0 && after < 15, `registration age ${after}`);
    }));

  it('cluster: peer-link paths, dial errors, Redis latency, and the coordinator /metrics', async (t) =>
    withScope(t, async (s) => {
      const c = await startCluster(s, {
        relays: 2,
        relayFlags: [...FAST_CLUSTER, '--metrics-listen', '127.0.0.1:0'],
      });
      const [n1, n2] = c.nodes as [(typeof c.nodes)[0], (typeof c.nodes)[0]];
      const url1 = await metricsUrlOf(n1.proc!);
      const url2 = await metricsUrlOf(n2.proc!);
      c.startAgent('dev1', [n2]);
      await waitFor(() => c.record('dev1').relayId === n2.id || undefined, {
        what: 'dev1 registered on relay2',
      });

      // Through relay1: out over the peer link on relay1, in from it on relay2.
      const r = await c.op.run(['-J', 'relay1', 'dev1', 'true'], { timeoutMs: 15_000 });
      assert.equal(r.code, 0, r.stderr);
      const m1 = await scrape(url1);
      assert.equal(
        m1.value('burrow_relay_client_connections_total', {
          path: 'forwarded-out',
          result: 'bridged',
        }),
        1,
      );
      assert.equal(m1.value('burrow_relay_peer_links'), 1);
      assert.equal(m1.value('burrow_relay_names'), 0);
      const m2 = await scrape(url2);
      assert.equal(
        m2.value('burrow_relay_client_connections_total', {
          path: 'forwarded-in',
          result: 'bridged',
        }),
        1,
      );
      assert.equal(m2.value('burrow_relay_names'), 1);
      assert.ok(m2.value('burrow_relay_registry_seconds', { op: 'claim' }) >= 1);
      assert.ok(m2.value('burrow_relay_registry_seconds', { op: 'heartbeat' }) >= 1);
      const hb = m2.value('burrow_relay_heartbeat_age_seconds');
      assert.ok(hb >= 0 && hb < 3, `heartbeat age ${hb} under the 3 s TTL`);

      // The coordinator over the same Redis, behind a token.
      const dir = await tmpDir(s);
      const tokenFile = join(dir, 'api-token');
      writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
      const { url: base } = await startCoordinatorCli(s, c.redis, {
        flags: ['--api-token-file', tokenFile],
      });
      const open = await fetch(`${base}/metrics`);
      assert.equal(open.status, 401, 'no token, no metrics');
      assert.equal(open.headers.get('www-authenticate'), 'Bearer');
      const wrong = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer nope' } });
      assert.equal(wrong.status, 401);
      const get = (path: string) =>
        fetch(base + path, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal((await get('/v1/placement?name=dev1')).status, 200);
      assert.equal((await get('/v1/placement?name=dev3')).status, 200);
      assert.equal((await get('/v1/placement?name=')).status, 400);
      let cm = await scrape(`${base}/metrics`, TOKEN);
      assert.equal(cm.value('burrow_coordinator_relays', { state: 'up' }), 2);
      assert.equal(cm.value('burrow_coordinator_relays', { state: 'lost' }), 0);
      assert.equal(cm.value('burrow_coordinator_names'), 1);
      assert.equal(cm.value('burrow_coordinator_registry_up'), 1);
      assert.equal(cm.value('burrow_coordinator_placements_total', { result: 'placed' }), 2);
      assert.equal(cm.value('burrow_coordinator_placements_total', { result: 'bad-request' }), 1);
      assert.ok(cm.value('burrow_process_resident_memory_bytes') > 0);

      // relay2 dies while the registry still names it: relay1's dial fails, and says so.
      await n2.kill9();
      const lost = await c.op.run(['-J', 'relay1', 'dev1', 'true'], { timeoutMs: 15_000 });
      assert.notEqual(lost.code, 0);
      const after = await scrape(url1);
      assert.equal(
        after.value('burrow_relay_peer_dial_errors_total', { failure: 'unreachable' }),
        1,
        lost.stderr,
      );
      assert.equal(
        after.value('burrow_relay_refusals_total', { kind: 'connect', reason: 'peer-unreachable' }),
        1,
      );
      assert.equal(
        after.value('burrow_relay_client_connections_total', {
          path: 'forwarded-out',
          result: 'peer-unreachable',
        }),
        1,
      );
      cm = await scrapeUntil(
        `${base}/metrics`,
        'the coordinator to see relay2 lost',
        (x) => x.value('burrow_coordinator_relays', { state: 'up' }) === 1,
        TOKEN,
      );
      assert.equal(cm.value('burrow_coordinator_relays', { state: 'up' }), 1);
    }));

  it('--metrics-listen: bad values exit 2 with one line; beyond loopback warns', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      writeFileSync(join(dir, 'authorized_keys'), '');
      const busy = createServer();
      await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
      s.defer(() => new Promise<void>((resolve) => busy.close(() => resolve())), 'busy port');
      const busyPort = (busy.address() as { port: number }).port;
      const key = await generateKey(dir, 'device');
      const agentArgs = [
        'agent',
        '--name',
        'dev1',
        '--relay',
        '127.0.0.1:1',
        '--identity',
        key.path,
      ];
      const cases: [string[], number, RegExp][] = [
        [
          [...relayCliArgs(dir), '--metrics-listen', 'nope'],
          2,
          /--metrics-listen: expected HOST:PORT/,
        ],
        [[...relayCliArgs(dir), '--metrics-listen', '127.0.0.1:99999'], 2, /--metrics-listen:/],
        [
          [...relayCliArgs(dir), '--metrics-listen', `127.0.0.1:${busyPort}`],
          1,
          /--metrics-listen: cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/,
        ],
        [
          [...agentArgs, '--metrics-listen', 'localhost'],
          2,
          /--metrics-listen: expected HOST:PORT/,
        ],
      ];
      for (const [args, code, want] of cases) {
        const r = await runCli(s, args, { BURROW_DATA_DIR: dir });
        assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
        const plain = r.stderr
          .trim()
          .split('\n')
          .filter((l) => !l.startsWith('{'));
        assert.equal(plain.length, 1, `one plain line: ${r.stderr}`);
        assert.match(plain[0]!, want, args.join(' '));
      }

      const wide = startCli(s, [...relayCliArgs(dir), '--metrics-listen', '0.0.0.0:0']);
      const [, port] = await wide.waitForLine(
        /serving metrics on 0\.0\.0\.0:(\d+) beyond loopback/,
        { stream: 'stderr' },
      );
      const m = await scrape(`http://127.0.0.1:${port}/metrics`);
      assert.equal(m.value('burrow_relay_names'), 0);
    }));
});
