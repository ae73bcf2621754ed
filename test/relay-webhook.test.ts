/**
 * `burrow relay --auth-webhook URL`, end to end: a real HTTP hook on loopback, the relay CLI, real
 * OpenSSH devices (`ssh -N -R`) and clients (`ssh -J`). The hook allows (and its permitlisten is
 * enforced), denies, times out, answers garbage or 500 (refused: fail closed, audited once per
 * outage), is cached as it says, is never asked about keys the policy file lists, and its URL's
 * credentials never reach a log.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  generateKey,
  runCommand,
  startSshd,
  tmpDir,
  waitFor,
  within,
  withScope,
} from './helpers/index.js';
import { CLI_PATH, relayCliArgs, relayClient } from './helpers/relay.js';
import { type HookReply, startHook } from './helpers/webhook.js';

import {
  allow,
  cast,
  refusedFor,
  register,
  startRelay,
  tryRegister,
} from './helpers/webhook-relay.js';

describe('burrow relay --auth-webhook', () => {
  it('an allow registers what its permitlisten permits, and nothing else', async (t) =>
    withScope(t, async (s) => {
      const c = await cast(s, allow(['dev1:22'], 60));
      const opKey = await generateKey(c.dir, 'operator');
      const sshd = await startSshd(s, { authorizedKeys: [opKey] });
      c.hook.reply((req) => {
        const fp = (req.body as { fingerprint: string }).fingerprint;
        return fp === opKey.fingerprint ? allow([], 60, ['dev1:22']) : allow(['dev1:22'], 60);
      });
      await register(c.device, c.relay, c.devKey, `dev1:22:127.0.0.1:${sshd.port}`);
      const first = c.hook.requests[0]!;
      assert.equal(first.method, 'POST');
      assert.equal(first.path, '/hook');
      assert.equal(first.headers['content-type'], 'application/json');
      const pub = c.devKey.publicKey.split(' ').slice(0, 2).join(' ');
      assert.deepEqual(first.body, {
        fingerprint: c.devKey.fingerprint,
        public_key: pub,
        source: '127.0.0.1',
        user: 'burrow',
      });
      const accepted = c.relay.events('auth.accepted').find((e) => e.fp === c.devKey.fingerprint);
      assert.equal(accepted?.key, 'auth-webhook');

      // permitlisten is enforced: dev2 is not in the hook's list.
      const r = await tryRegister(c.device, `dev2:22:127.0.0.1:${sshd.port}`);
      assert.equal(r.code, 255, r.output);
      assert.match(r.output, /remote port forwarding failed/);
      const refused = c.relay.events('name.refused').find((e) => e.request.startsWith('dev2'));
      assert.equal(refused?.reason, 'not-permitted');

      // An operator the hook allows to open dev1:22 reaches the device through the relay.
      const op = await relayClient(s, c.relay, opKey, [
        { name: 'dev1', hostKeyPub: sshd.hostKeyPub },
      ]);
      const res = await op.run(['dev1', 'echo', 'through-the-hook']);
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.stdout.trim(), 'through-the-hook');
    }));

  it('a deny refuses the key, and is cached no longer than it says', async (t) =>
    withScope(t, async (s) => {
      const c = await cast(s, { json: { allow: false, ttl_s: 4 } });
      const fwd = `dev1:22:127.0.0.1:${c.sshdPort}`;
      const r = await tryRegister(c.device, fwd);
      assert.equal(r.code, 255);
      assert.match(r.output, /Permission denied/);
      assert.equal(await refusedFor(c.relay, c.devKey, 0), 'webhook-denied');
      assert.equal(c.hook.requests.length, 1);
      const denied = Date.now();
      // Within the deny's four seconds the hook is not asked again, even though it would allow.
      c.hook.reply(allow(['dev1:22'], 60));
      const mark = c.relay.events('auth.refused').length;
      assert.equal((await tryRegister(c.device, fwd)).code, 255);
      assert.equal(await refusedFor(c.relay, c.devKey, mark), 'webhook-denied');
      assert.ok(Date.now() - denied < 3900, 'the second attempt came too late to test the cache');
      assert.equal(c.hook.requests.length, 1);
      // Once it has run out, the hook is asked again, and its allow now works.
      await waitFor(() => Date.now() - denied > 4100, { what: 'the deny to run out' });
      await register(c.device, c.relay, c.devKey, fwd);
      assert.equal(c.hook.requests.length, 2);
    }));

  it('asks once for concurrent logins of one key (single flight)', async (t) =>
    withScope(t, async (s) => {
      const c = await cast(s, { ...allow(['*:22'], 60), delayMs: 400 });
      const names = ['dev1', 'dev2', 'dev3', 'dev4', 'dev5'];
      const procs = names.map((n) =>
        c.device.spawn(['-N', '-R', `${n}:22:127.0.0.1:${c.sshdPort}`, 'relay'], { name: n }),
      );
      await waitFor(() => c.relay.events('name.registered').length === names.length, {
        what: 'five registrations',
      });
      assert.equal(procs.filter((p) => p.exit).length, 0);
      assert.equal(c.hook.requests.length, 1, 'one request for five concurrent logins');
    }));

  it('timeout, garbage, a 500 and a malformed allow all refuse, audited once per outage', async (t) =>
    withScope(t, async (s) => {
      // Each refusal is an authentication failure the source pays for, as for any refused key:
      // penalties off, so the seven attempts from 127.0.0.1 all reach the hook.
      const c = await cast(s, { hang: true }, { extra: ['--per-source-penalties', 'no'] });
      const fwd = `dev1:22:127.0.0.1:${c.sshdPort}`;
      const cases: [HookReply, string][] = [
        [{ hang: true }, 'webhook-timeout'],
        [{ text: 'this is not json' }, 'webhook-malformed'],
        [
          { status: 500, json: { allow: true, permitlisten: ['dev1:22'], ttl_s: 60 } },
          'webhook-status',
        ],
        [{ json: { allow: true, permitlisten: ['dev 1:22'], ttl_s: 60 } }, 'webhook-malformed'],
        [
          { json: { allow: true, permitlisten: ['dev1:22'], ttl_s: 60, admin: true } },
          'webhook-malformed',
        ],
        [{ json: { allow: 'yes' } }, 'webhook-malformed'],
        [{ text: JSON.stringify({ allow: false, pad: 'x'.repeat(70_000) }) }, 'webhook-malformed'],
      ];
      for (const [reply, reason] of cases) {
        c.hook.reply(reply);
        const mark = c.relay.events('auth.refused').length;
        const r = await tryRegister(c.device, fwd);
        assert.equal(r.code, 255, `${reason}: ${r.output}`);
        assert.match(r.output, /Permission denied/);
        assert.equal(
          await refusedFor(c.relay, c.devKey, mark),
          reason,
          JSON.stringify(reply).slice(0, 80),
        );
      }
      assert.equal(c.relay.events('name.registered').length, 0);
      // One webhook.failed line for the whole outage, naming the first reason.
      const failed = c.relay.events('webhook.failed');
      assert.equal(failed.length, 1, JSON.stringify(failed));
      assert.equal(failed[0]!.reason, 'webhook-timeout');
      // The hook answers again: restored, with the count, and the key gets in.
      c.hook.reply(allow(['dev1:22'], 60));
      await register(c.device, c.relay, c.devKey, fwd);
      const restored = c.relay.events('webhook.restored');
      assert.equal(restored.length, 1);
      assert.equal(restored[0]!.failures, cases.length);
    }));

  it('a cached allow serves while the hook is down, until its ttl_s runs out', async (t) =>
    withScope(t, async (s) => {
      const c = await cast(s, allow(['dev1:22'], 3));
      const fwd = `dev1:22:127.0.0.1:${c.sshdPort}`;
      const asked = Date.now();
      const first = await register(c.device, c.relay, c.devKey, fwd);
      await first.stop();
      await c.hook.close();
      // The hook is gone; the allow is still fresh.
      const second = await register(c.device, c.relay, c.devKey, fwd);
      assert.equal(c.hook.requests.length, 1);
      await second.stop();
      await waitFor(() => Date.now() - asked > 3200, { what: 'the allow to run out' });
      const mark = c.relay.events('auth.refused').length;
      const r = await tryRegister(c.device, fwd);
      assert.equal(r.code, 255, r.output);
      assert.equal(await refusedFor(c.relay, c.devKey, mark), 'webhook-unreachable');
    }));

  it('live connections follow the renewed answer: narrowed, kept while down, closed on deny', async (t) =>
    withScope(t, async (s) => {
      const c = await cast(s, allow(['dev1:22', 'dev2:22'], 2));
      const proc = c.device.spawn(
        [
          '-N',
          '-R',
          `dev1:22:127.0.0.1:${c.sshdPort}`,
          '-R',
          `dev2:22:127.0.0.1:${c.sshdPort}`,
          'relay',
        ],
        { name: 'device dev1+dev2' },
      );
      await waitFor(() => c.relay.events('name.registered').length === 2, {
        what: 'dev1 and dev2 registered',
      });
      // At the renewal the hook narrows the allow to dev1: dev2 is released, the connection stays.
      c.hook.reply(allow(['dev1:22'], 2));
      const released = await waitFor(
        () => c.relay.events('name.released').find((e) => e.name === 'dev2'),
        { what: 'dev2 released at the renewal', timeoutMs: 8000 },
      );
      assert.equal(released.reason, 'not-permitted');
      assert.equal(proc.exit, undefined);
      // The hook goes silent: the live connection keeps its last allow.
      c.hook.reply({ status: 503, text: 'down' });
      const asked = c.hook.requests.length;
      await waitFor(() => c.hook.requests.length > asked, {
        what: 'a renewal while the hook is down',
        timeoutMs: 8000,
      });
      assert.equal(proc.exit, undefined, 'kept while the hook is down');
      assert.equal(c.relay.events('conn.closed').length, 0);
      // It comes back with a deny: the connection is closed as revoked.
      c.hook.reply({ json: { allow: false } });
      const closed = await waitFor(
        () => c.relay.events('conn.closed').find((e) => e.fp === c.devKey.fingerprint),
        { what: 'the connection closed on the deny', timeoutMs: 20_000 },
      );
      assert.equal(closed.reason, 'key-revoked');
      await within(proc.stopped(), 5000, 'the device ssh to exit');
    }));

  it('never asks about a key the policy file lists, even for what the file refuses', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      const listed = await generateKey(dir, 'listed');
      const c = await cast(s, allow(['*:*'], 60), {
        dir,
        policy: `permitlisten="dev1:22" ${listed.publicKey}\n`,
      });
      const device = await relayClient(s, c.relay, listed);
      await register(device, c.relay, listed, `dev1:22:127.0.0.1:${c.sshdPort}`);
      const r = await tryRegister(device, `dev2:22:127.0.0.1:${c.sshdPort}`);
      assert.equal(r.code, 255);
      assert.equal(c.hook.requests.length, 0, 'the hook was asked about a listed key');
      const accepted = c.relay.events('auth.accepted').find((e) => e.fp === listed.fingerprint);
      assert.match(accepted?.key ?? '', /authorized_keys:1$/);
    }));

  it("keeps the URL's credentials out of every log line and sends them as Basic auth", async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      const devKey = await generateKey(dir, 'device');
      const hook = await startHook(s, { status: 500, text: 'nope' });
      const url = `http://hookuser:s3cr3t-pass@127.0.0.1:${hook.port}/hook?token=t0ken-value`;
      const relay = await startRelay(s, dir, '', ['--auth-webhook', url]);
      const device = await relayClient(s, relay, devKey);
      const r = await tryRegister(device, 'dev1:22:127.0.0.1:22');
      assert.equal(r.code, 255);
      await waitFor(() => relay.events('webhook.failed').length === 1, { what: 'webhook.failed' });
      const req = hook.requests[0]!;
      assert.equal(
        req.headers.authorization,
        `Basic ${Buffer.from('hookuser:s3cr3t-pass').toString('base64')}`,
      );
      assert.equal(req.path, '/hook?token=t0ken-value');
      const everything = relay.proc.output('any');
      for (const secret of ['s3cr3t-pass', 't0ken-value', 'hookuser']) {
        assert.ok(!everything.includes(secret), `${secret} reached the logs`);
      }
      assert.equal(
        relay.events('webhook.failed')[0]!.url,
        `http://***@127.0.0.1:${hook.port}/hook?***`,
      );
      assert.doesNotMatch(everything, /PRIVATE KEY/);
    }));

  it('refuses a bad --auth-webhook or --auth-webhook-timeout at start with one clear line', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      writeFileSync(join(dir, 'authorized_keys'), '');
      const cases: [string[], RegExp][] = [
        [
          ['--auth-webhook', 'ftp://127.0.0.1/hook'],
          // The README's line, exactly.
          /^burrow: --auth-webhook: the "ftp:" scheme is not supported; use http:\/\/ or https:\/\/\n$/,
        ],
        [
          ['--auth-webhook', 'file:///etc/passwd'],
          /--auth-webhook: the "file:" scheme is not supported/,
        ],
        [['--auth-webhook', 'not a url'], /--auth-webhook: not a URL/],
        [
          ['--auth-webhook', 'http://127.0.0.1/', '--auth-webhook-timeout', 'soon'],
          /--auth-webhook-timeout: expected a duration/,
        ],
        [
          ['--auth-webhook', 'http://127.0.0.1/', '--auth-webhook-timeout', '5m'],
          /--auth-webhook-timeout: give a duration from 1ms to 60s/,
        ],
      ];
      for (const [extra, want] of cases) {
        const r = await runCommand(
          s,
          process.execPath,
          [CLI_PATH, ...relayCliArgs(dir), ...extra],
          {
            env: { BURROW_DATA_DIR: dir },
            timeoutMs: 15_000,
          },
        );
        assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, want);
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      }
    }));
});
