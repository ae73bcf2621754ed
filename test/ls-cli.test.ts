/**
 * `burrow ls` against a real `burrow serve`: every name through the API's cursors (more than one
 * page), --limit across pages, the token the coordinator requires, and a coordinator that is
 * not there (given, from BURROW_COORDINATOR, and the default one).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort, generateKey, runCommand, tmpDir, waitFor, withScope } from './helpers/index.js';
import { CLI_PATH, relayClient } from './helpers/relay.js';
import { ls, startServe, tableRows } from './helpers/serve.js';

describe('burrow ls', () => {
  it('pages through every name with burrow ls, past one page of the API', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      const dev = await generateKey(dir, 'device');
      writeFileSync(join(dir, 'authorized_keys'), `permitlisten="n*:22" ${dev.publicKey}\n`);
      const serve = await startServe(s, dir);
      const device = await relayClient(
        s,
        { port: serve.sshPort, hostKeyPub: serve.hostKey.publicKey },
        dev,
      );
      // 1005 names: more than the 1000 the API gives at most per page.
      const names = Array.from({ length: 1005 }, (_, i) => `n${String(i).padStart(4, '0')}`);
      const tunnel = device.spawn(
        [
          '-N',
          '-o',
          'ExitOnForwardFailure=yes',
          ...names.flatMap((n) => ['-R', `${n}:22:127.0.0.1:9`]),
          'relay',
        ],
        { name: 'device ssh -R ×1005' },
      );
      await waitFor(
        async () => {
          if (tunnel.exit) throw new Error(`ssh -R exited: ${tunnel.tail()}`);
          const r = await fetch(`${serve.url}/v1/names?prefix=n1004`);
          return ((await r.json()) as { names: unknown[] }).names.length === 1;
        },
        { what: 'the last of 1005 names to be registered', timeoutMs: 30_000 },
      );
      const first = (await (await fetch(`${serve.url}/v1/names?limit=1000`)).json()) as {
        cursor?: string;
      };
      assert.ok(first.cursor, 'the API needs a second page');

      const json = await ls(s, ['--coordinator', serve.url, '--json']);
      assert.equal(json.code, 0, json.stderr);
      assert.deepEqual(
        (JSON.parse(json.stdout) as { name: string }[]).map((n) => n.name),
        names,
      );
      const table = await ls(s, ['--coordinator', serve.url]);
      assert.deepEqual(
        tableRows(table.stdout)
          .slice(1)
          .map((r) => r[0]),
        names,
      );
      const limited = await ls(s, ['--coordinator', serve.url, '--json', '--limit', '1002']);
      assert.deepEqual(
        (JSON.parse(limited.stdout) as { name: string }[]).map((n) => n.name),
        names.slice(0, 1002),
      );
    }));

  it('needs the token the coordinator requires, and says so; says when nothing answers', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      writeFileSync(join(dir, 'authorized_keys'), '');
      const tokenFile = join(dir, 'token');
      writeFileSync(tokenFile, 'ls-test-token-7f3a\n', { mode: 0o600 });
      const wrongFile = join(dir, 'wrong');
      writeFileSync(wrongFile, 'not-the-token\n', { mode: 0o600 });
      const serve = await startServe(s, dir, ['--api-token-file', tokenFile]);
      const url = ['--coordinator', serve.url];

      const without = await ls(s, url);
      assert.equal(without.code, 1);
      assert.equal(
        without.stderr,
        `burrow: the coordinator at ${serve.url} requires a token (401): give --token-file FILE\n`,
      );
      const wrong = await ls(s, [...url, '--token-file', wrongFile]);
      assert.equal(wrong.code, 1);
      assert.equal(
        wrong.stderr,
        `burrow: the coordinator at ${serve.url} refused the token (401): check ${wrongFile}\n`,
      );
      assert.ok(!wrong.stderr.includes('not-the-token'), 'the token is never shown');
      const right = await ls(s, [...url, '--token-file', tokenFile, '--json']);
      assert.equal(right.code, 0, right.stderr);
      assert.deepEqual(JSON.parse(right.stdout), []);
      const bad = await ls(s, [...url, '--token-file', tokenFile, 'Bad!']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /^burrow: the coordinator at .* refused the query: prefix: /);

      // Nothing listening: the default URL (the local `burrow serve`) gets a hint.
      const closed = await freePort();
      const r = await ls(s, ['--coordinator', `http://127.0.0.1:${closed}`]);
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        `burrow: cannot reach the coordinator at http://127.0.0.1:${closed}: connection refused\n`,
      );
      const viaEnv = await runCommand(s, process.execPath, [CLI_PATH, 'ls'], {
        env: { BURROW_COORDINATOR: `http://127.0.0.1:${closed}` },
      });
      assert.equal(viaEnv.code, 1);
      assert.equal(viaEnv.stderr, r.stderr, 'BURROW_COORDINATOR is --coordinator');
      // The default, 127.0.0.1:8080, in a network namespace of its own where nothing listens.
      const isolated = await runCommand(s, 'unshare', [
        ...['--net', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"'],
        ...[process.execPath, CLI_PATH, 'ls'],
      ]);
      assert.equal(isolated.code, 1, isolated.stderr);
      assert.equal(
        isolated.stderr,
        'burrow: cannot reach the coordinator at http://127.0.0.1:8080: connection refused ' +
          '(is `burrow serve` running here? else give --coordinator URL)\n',
      );
    }));

  it('says when what answers is not a burrow coordinator', async (t) =>
    withScope(t, async (s) => {
      // Another web server on the URL given: one page of HTML, or JSON of another shape.
      const server = createServer((req, res) => {
        const html = req.url?.startsWith('/html/');
        res.writeHead(200, { 'content-type': html ? 'text/html' : 'application/json' });
        res.end(html ? '<html><body>hello</body></html>' : '{"items":[]}');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      s.defer(() => new Promise<void>((resolve) => server.close(() => resolve())), 'web server');
      const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      const html = await ls(s, ['--coordinator', `${base}/html/`]);
      assert.equal(html.code, 1);
      assert.equal(
        html.stderr,
        `burrow: the coordinator at ${base}/html answered HTTP 200 with something other than JSON: is it a burrow coordinator?\n`,
      );
      const other = await ls(s, ['--coordinator', base, '--json']);
      assert.equal(other.code, 1);
      assert.equal(
        other.stderr,
        `burrow: the coordinator at ${base} answered /v1/names with something other than a page of names: is it a burrow coordinator?\n`,
      );
    }));
});
