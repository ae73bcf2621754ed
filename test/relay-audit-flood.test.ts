/**
 * The audit trail cannot be used to fill a disk: a key that may do nothing floods the relay with
 * refused requests carrying 30 KB targets (a hand-made ssh2 client, faster than OpenSSH would
 * send them); the trail stays small, says how much it left out, and the relay keeps serving.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { MAX_FIELD, REFUSAL_BUDGET } from '../src/audit/limits.js';
import ssh2 from '../src/ssh/ssh2.js';
import {
  authorizedKeyLine,
  generateKey,
  type KeyPair,
  type Scope,
  tmpDir,
  withScope,
} from './helpers/index.js';
import { relayClient, startTestRelay, type TestRelay } from './helpers/relay.js';

async function ssh2Client(scope: Scope, relay: TestRelay, key: KeyPair): Promise<ssh2.Client> {
  const client = new ssh2.Client();
  scope.defer(() => void client.destroy(), 'ssh2 client');
  const privateKey = await readFile(key.path, 'utf8');
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
    client.connect({ host: '127.0.0.1', port: relay.port, username: 'x', privateKey });
  });
  client.on('error', () => {});
  return client;
}

/** Opens a direct-tcpip channel to `host:port`; resolves true if the relay refused it. */
function refusedOpen(client: ssh2.Client, host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    client.forwardOut('127.0.0.1', 1, host, port, (err, ch) => {
      ch?.close();
      resolve(err !== undefined);
    });
  });
}

describe('relay: audit flood', () => {
  it('a key that may do nothing cannot flood the audit trail with 30 KB refusals', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      const [nobody, op] = await Promise.all([generateKey(dir, 'nobody'), generateKey(dir, 'op')]);
      const relay = await startTestRelay(s, {
        policy: [
          authorizedKeyLine({ key: nobody, options: [] }),
          authorizedKeyLine({ key: op, options: ['permitopen="*:22"'] }),
        ],
      });
      const flooder = await ssh2Client(s, relay, nobody);
      const target = 'x'.repeat(30_000);
      const total = 2000;
      let refused = 0;
      for (let sent = 0; sent < total; sent += 100) {
        const batch = Array.from({ length: 100 }, (_, i) =>
          refusedOpen(flooder, `${target}${sent + i}`, 22),
        );
        refused += (await Promise.all(batch)).filter(Boolean).length;
      }
      assert.equal(refused, total, 'every request was refused');

      // The relay still serves others while the flooder is connected.
      const opClient = await relayClient(s, relay, op);
      const r = await opClient.run(['-W', 'dev1:22', 'relay']);
      assert.equal(r.code, 255);
      const opRefusal = await relay.audit.wait(
        'connect.refused',
        (e) => e.fp === op.fingerprint && e.to === 'dev1:22',
      );
      assert.equal(opRefusal.reason, 'unknown-name');

      const conn = relay.audit.all('auth.accepted').find((e) => e.fp === nobody.fingerprint)!.conn;
      flooder.end();
      await relay.audit.wait('conn.closed', (e) => e.conn === conn);

      const lines = relay.audit.events.map((e) => JSON.stringify({ ts: new Date(), ...e }));
      const bytes = lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
      assert.ok(bytes < 200_000, `audit trail is ${bytes} bytes`);
      const longest = Math.max(...lines.map((l) => l.length));
      assert.ok(longest < MAX_FIELD + 400, `longest audit line is ${longest} characters`);
      const written = relay.audit.all('connect.refused').filter((e) => e.conn === conn);
      assert.equal(written.length, REFUSAL_BUDGET);
      for (const e of written) {
        // `x…x<i>:22` cut to MAX_FIELD characters, saying how many were cut.
        const cut = /^x+…\(\+(\d+)\)$/.exec(e.to);
        assert.ok(cut && e.to.indexOf('…') === MAX_FIELD, e.to.slice(-40));
        assert.ok(Number(cut[1]) > target.length - MAX_FIELD, e.to.slice(-40));
      }
      const summary = relay.audit.all('audit.suppressed').filter((e) => e.conn === conn);
      assert.deepEqual(summary, [
        { event: 'audit.suppressed', conn, kind: 'connect.refused', count: total - REFUSAL_BUDGET },
      ]);
      // The summary comes before the connection's close.
      const order = relay.audit.events
        .filter((e) => 'conn' in e && e.conn === conn)
        .map((e) => e.event);
      assert.deepEqual(order.slice(-2), ['audit.suppressed', 'conn.closed']);
    }));
});
