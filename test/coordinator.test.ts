/**
 * `burrow coordinator` as run by an operator: the real CLI on a free loopback port, over a real
 * redis-server shared with two `burrow relay --registry redis://…` processes, with a device
 * registered by plain `ssh -N -R`. Placement, names, paging, relays, status, the bearer token,
 * 400s for bad input, /readyz following Redis, and a clean SIGTERM.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { clientForRelays, registerInRedis, startRegistryRelay } from './helpers/cluster.js';
import { startCoordinatorCli } from './helpers/coordinator.js';
import {
  fingerprintOf,
  freePort,
  generateKey,
  tmpDir,
  waitFor,
  withScope,
} from './helpers/index.js';
import { startRedis } from './helpers/redis.js';
import { startCli } from './helpers/relay.js';

interface Http {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

function client(base: string) {
  return async (path: string, token?: string): Promise<Http> => {
    const res = await fetch(base + path, {
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    });
    const text = await res.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      assert.fail(`${path}: not JSON (${res.status}): ${text.slice(0, 200)}`);
    }
    return { status: res.status, body, text };
  };
}

const TOKEN = 'c0ffee-test-token-4d2a9b';

describe('burrow coordinator', () => {
  it('serves placement, names, relays and status from Redis, behind a bearer token', async (t) =>
    withScope(t, async (s) => {
      const redis = await startRedis(s);
      const dir = await tmpDir(s);
      const dev = await generateKey(dir, 'device');
      writeFileSync(
        join(dir, 'authorized_keys'),
        `permitlisten="dev1:22",permitlisten="dev2:22" ${dev.publicKey}\n`,
      );
      const fp = await fingerprintOf(dev.path);
      const A = await startRegistryRelay(s, dir, 'a', redis);
      const B = await startRegistryRelay(s, dir, 'b', redis);
      const ssh = await clientForRelays(s, dev, { A, B });
      await registerInRedis(ssh, B, 'B', 'dev1', redis);

      const tokenFile = join(dir, 'api-token');
      writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
      const { proc: coord, url } = await startCoordinatorCli(s, redis, {
        flags: ['--api-token-file', tokenFile, '--public-placement'],
      });
      const get = client(url);

      // The token: reads refused without it or with a wrong one; placement left open.
      for (const header of [undefined, 'wrong-token', `${TOKEN}x`]) {
        const r = await get('/v1/relays', header);
        assert.equal(r.status, 401, `token ${header}: ${r.text}`);
        assert.equal((r.body.error as { code: string }).code, 'UNAUTHORIZED');
      }
      assert.equal((await get('/v1/names/dev1')).status, 401);
      assert.equal((await get('/v1/status')).status, 401);
      assert.equal((await get('/healthz')).status, 200);

      // Relays: both up, and B's heartbeat has counted dev1.
      await waitFor(
        async () => {
          const r = await get('/v1/relays', TOKEN);
          const relays = r.body.relays as { id: string; names: number }[];
          return relays.length === 2 && relays.find((x) => x.id === B.id)?.names === 1;
        },
        { what: '/v1/relays to list both relays with dev1 counted on B' },
      );
      const relays = (await get('/v1/relays', TOKEN)).body.relays as Record<string, unknown>[];
      assert.deepEqual(
        relays.map((r) => [r.id, r.address, r.state, r.names]),
        [
          [A.id, `127.0.0.1:${A.port}`, 'up', 0],
          [B.id, `127.0.0.1:${B.port}`, 'up', 1],
        ],
      );
      for (const r of relays) {
        assert.ok(
          typeof r.heartbeatAgeMs === 'number' && r.heartbeatAgeMs <= 3000,
          String(r.heartbeatAgeMs),
        );
      }

      // Placement: dev1 where it is held, first; a new name on the emptier relay first.
      const held = await get('/v1/placement?name=dev1');
      assert.equal(held.status, 200, held.text);
      assert.deepEqual(held.body, {
        relays: [
          { id: B.id, address: `127.0.0.1:${B.port}` },
          { id: A.id, address: `127.0.0.1:${A.port}` },
        ],
      });
      const fresh = await get('/v1/placement?name=dev2');
      assert.deepEqual(
        (fresh.body.relays as { id: string }[]).map((r) => r.id),
        [A.id, B.id],
      );

      // One name.
      const one = await get('/v1/names/dev1', TOKEN);
      assert.equal(one.status, 200, one.text);
      assert.equal(one.body.name, 'dev1');
      assert.deepEqual(one.body.relay, { id: B.id, address: `127.0.0.1:${B.port}` });
      assert.deepEqual(one.body.ports, [22]);
      assert.equal(one.body.owner, fp);
      assert.ok(!Number.isNaN(Date.parse(String(one.body.since))));
      const unknown = await get('/v1/names/nosuch', TOKEN);
      assert.equal(unknown.status, 404);
      assert.equal((unknown.body.error as { code: string }).code, 'NOT_FOUND');

      // Paging: a second name on A, then every page of one followed to the end.
      await registerInRedis(ssh, A, 'A', 'dev2', redis);
      const seen = new Set<string>();
      let cursor: string | undefined;
      let pages = 0;
      do {
        const q = `/v1/names?limit=1${cursor ? `&cursor=${cursor}` : ''}`;
        const page = await get(q, TOKEN);
        assert.equal(page.status, 200, page.text);
        for (const n of page.body.names as { name: string }[]) seen.add(n.name);
        cursor = page.body.cursor as string | undefined;
        pages++;
        assert.ok(pages < 100, 'paging ends');
      } while (cursor !== undefined);
      assert.deepEqual([...seen].sort(), ['dev1', 'dev2']);
      const prefixed = await get('/v1/names?prefix=dev2&limit=1000', TOKEN);
      assert.deepEqual(
        (prefixed.body.names as { name: string }[]).map((n) => n.name),
        ['dev2'],
      );

      const status = await get('/v1/status', TOKEN);
      assert.equal(status.status, 200, status.text);
      assert.deepEqual(status.body.relays, { up: 2, draining: 0, lost: 0 });
      assert.equal((status.body.registry as { reachable: boolean }).reachable, true);

      // Bad input: 400 with a JSON error, never a crash; unknown routes 404 JSON.
      const bad = [
        '/v1/placement',
        '/v1/placement?name=',
        '/v1/placement?name=127.0.0.1',
        `/v1/placement?name=${'a'.repeat(5000)}`,
        '/v1/placement?name=%00bad',
        '/v1/names?limit=0',
        '/v1/names?limit=1001',
        '/v1/names?limit=abc',
        `/v1/names?prefix=${'a'.repeat(300)}`,
        '/v1/names?prefix=*',
        '/v1/names?cursor=%2A%2A',
        `/v1/names?cursor=${'1'.repeat(300)}`,
        '/v1/names/bad%20name',
      ];
      for (const path of bad) {
        const r = await get(path, TOKEN);
        assert.equal(r.status, 400, `${path.slice(0, 60)}: ${r.text}`);
        const e = r.body.error as { code: string; message: string };
        assert.equal(e.code, 'BAD_REQUEST');
        assert.ok(e.message.length > 0 && e.message.length < 200, e.message);
      }
      const route = await get('/v2/nothing', TOKEN);
      assert.equal(route.status, 404);
      assert.equal((route.body.error as { code: string }).code, 'NOT_FOUND');
      assert.equal(coord.exit, undefined, 'the coordinator is still running');

      // Redis down: not ready, still alive; back up: ready again.
      assert.equal((await get('/readyz')).status, 200);
      await redis.stop();
      const down = await get('/readyz');
      assert.equal(down.status, 503, down.text);
      assert.equal((down.body.error as { code: string }).code, 'REGISTRY_UNAVAILABLE');
      assert.equal((await get('/v1/placement?name=dev1')).status, 503);
      assert.equal((await get('/healthz')).status, 200);
      await redis.restart();
      await waitFor(async () => (await get('/readyz')).status === 200, {
        what: '/readyz to answer 200 once Redis is back',
      });

      // SIGTERM: a clean exit; the token was never logged.
      coord.signal('SIGTERM');
      const exit = await coord.stopped();
      assert.deepEqual([exit.code, exit.signal], [0, null], coord.tail());
      assert.ok(!coord.output().includes(TOKEN), 'the token appears in no log line');
    }));

  it('warns when listening beyond loopback without a token, and refuses a bad token file and a port in use', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      const port = await freePort();
      const open = startCli(
        s,
        ['coordinator', '--registry', 'memory', '--listen', `0.0.0.0:${port}`],
        { name: 'coordinator 0.0.0.0' },
      );
      await open.waitForLine(/beyond loopback with no --api-token-file/, { stream: 'stderr' });
      await open.waitForLine(/coordinator listening on/, { stream: 'stderr' });
      await open.stop();

      const empty = join(dir, 'empty');
      writeFileSync(empty, '\n');
      for (const [file, want] of [
        [empty, /--api-token-file: .* is empty/],
        [join(dir, 'missing'), /--api-token-file: cannot read .*: ENOENT/],
      ] as const) {
        const p = startCli(s, ['coordinator', '--registry', 'memory', '--api-token-file', file]);
        const exit = await p.stopped();
        assert.notEqual(exit.code, 0);
        assert.match(p.output('stderr'), want);
        assert.equal(p.output('stderr').trim().split('\n').length, 1, p.output('stderr'));
      }

      // A port this process holds: one line naming the holder, as the relay says it.
      const held = createServer();
      await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
      s.defer(() => new Promise<void>((resolve) => held.close(() => resolve())), 'the held port');
      const heldPort = (held.address() as { port: number }).port;
      const busy = startCli(s, [
        ...['coordinator', '--registry', 'memory', '--listen', `127.0.0.1:${heldPort}`],
      ]);
      const busyExit = await busy.stopped();
      assert.notEqual(busyExit.code, 0);
      const line = busy.output('stderr').trim();
      assert.equal(line.split('\n').length, 1, line);
      assert.ok(
        line.startsWith(
          `burrow: --listen: cannot listen on 127.0.0.1:${heldPort}: address in use (by pid ${process.pid}: `,
        ),
        line,
      );
    }));
});
