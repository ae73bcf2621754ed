/**
 * `burrow relay --registry redis://…` as a process against a real redis-server: a device's name
 * appears in Redis while a real `ssh -N -R` holds it and goes when it leaves; a bad URL and an
 * unreachable Redis are one clear line, the password masked.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  REGISTRY_NAME_KEY,
  REGISTRY_RELAY_KEY,
  REGISTRY_RELAY_NAMES_KEY,
} from '../src/core/constants.js';
import { NAME_TTL_FACTOR } from '../src/registry/registry.js';
import {
  fingerprintOf,
  freePort,
  generateKey,
  publicKeyOf,
  runCommand,
  tmpDir,
  waitFor,
  withScope,
} from './helpers/index.js';
import { startRedis } from './helpers/redis.js';
import { CLI_PATH, relayCliArgs, relayClient, startCli } from './helpers/relay.js';

describe('burrow relay --registry', () => {
  it('records a registered name in Redis and removes it when the device leaves', async (t) =>
    withScope(t, async (s) => {
      const redis = await startRedis(s);
      const dir = await tmpDir(s);
      const device = await generateKey(dir, 'device');
      writeFileSync(join(dir, 'authorized_keys'), `permitlisten="dev1:22" ${device.publicKey}\n`);
      const relay = startCli(s, [
        ...relayCliArgs(dir),
        '--registry',
        `redis://127.0.0.1:${redis.port}`,
      ]);
      const started = await relay.waitForLine(
        /"event":"relay.started","relay":"([^"]+)","listen":"127\.0\.0\.1:(\d+)"/,
        { stream: 'stdout' },
      );
      const relayId = started[1] ?? '';
      assert.match(relayId, /:0#[0-9a-f]{8}$/, 'the default relay id carries a per-start nonce');
      const hostKeyPub = publicKeyOf(join(dir, 'host_key'));
      const ssh = await relayClient(s, { port: Number(started[2]), hostKeyPub }, device);
      const holder = ssh.spawn(
        ['-N', '-o', 'ExitOnForwardFailure=yes', '-R', 'dev1:22:127.0.0.1:9', 'relay'],
        { name: 'device dev1' },
      );
      await relay.waitForLine(/"event":"name.registered"/, { stream: 'stdout' });

      const key = `${REGISTRY_NAME_KEY}dev1`;
      const record = redis.cli('HMGET', key, 'owner', 'relayId', 'ports').split('\n');
      assert.deepEqual(record, [await fingerprintOf(device.path), relayId, '22']);
      // The name lives while the relay's record does (--registry-ttl); its own key far longer.
      const ttl = Number(redis.cli('PTTL', `${REGISTRY_RELAY_KEY}${relayId}`));
      assert.ok(ttl > 0 && ttl <= 15_000, `relay record TTL ${ttl}`);
      const own = Number(redis.cli('PTTL', key));
      assert.ok(own > 15_000 && own <= 15_000 * NAME_TTL_FACTOR, `name TTL ${own}`);
      assert.equal(redis.cli('SISMEMBER', `${REGISTRY_RELAY_NAMES_KEY}${relayId}`, 'dev1'), '1');

      await holder.stop();
      await waitFor(() => redis.cli('EXISTS', key) === '0', {
        what: 'dev1 to leave Redis once its device disconnected',
      });
    }));

  it('refuses a bad --registry URL with exit 2 and one line, password masked', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      const run = (args: string[], env: Record<string, string> = {}) =>
        runCommand(
          s,
          process.execPath,
          [CLI_PATH, 'relay', '--listen', '127.0.0.1:0', '--host-key', join(dir, 'k'), ...args],
          { env: { BURROW_DATA_DIR: dir, ...env }, timeoutMs: 15_000 },
        );
      const bad = await run(['--registry', 'redis://u:s3cretpw@127.0.0.1:99999']);
      assert.equal(bad.code, 2);
      assert.equal(
        bad.stderr,
        'burrow: --registry redis://u:***@127.0.0.1:99999: bad port "99999" (1-65535)\n',
      );
      const fromEnv = await run([], { BURROW_REGISTRY: 'memcached://s3cretpw@h' });
      assert.equal(fromEnv.code, 2);
      assert.match(fromEnv.stderr, /^burrow: --registry memcached:\/\/\S+: unknown scheme/);
      for (const r of [bad, fromEnv]) assert.ok(!`${r.stdout}${r.stderr}`.includes('s3cretpw'));
    }));

  it('exits 1 with one line when Redis is unreachable, password masked', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      const port = await freePort();
      const r = await runCommand(
        s,
        process.execPath,
        [
          CLI_PATH,
          'relay',
          '--listen',
          '127.0.0.1:0',
          '--host-key',
          join(dir, 'k'),
          '--registry',
          `redis://:s3cretpw@127.0.0.1:${port}`,
        ],
        { env: { BURROW_DATA_DIR: dir }, timeoutMs: 15_000 },
      );
      assert.equal(r.code, 1);
      assert.ok(r.durationMs < 10_000, `took ${r.durationMs} ms`);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('burrow:'));
      assert.deepEqual(lines, [
        `burrow: --registry redis://:***@127.0.0.1:${port}: cannot connect: ECONNREFUSED`,
      ]);
      assert.ok(!`${r.stdout}${r.stderr}`.includes('s3cretpw'));
    }));

  it('publishes --capacity (or BURROW_CAPACITY) in the relay record; a bad value is one line', async (t) =>
    withScope(t, async (s) => {
      const redis = await startRedis(s);
      const dir = await tmpDir(s);
      writeFileSync(join(dir, 'authorized_keys'), '');
      const registry = ['--registry', `redis://127.0.0.1:${redis.port}`];
      const started = /"event":"relay.started","relay":"([^"]+)"/;
      const flag = startCli(s, [...relayCliArgs(dir), ...registry, '--capacity', '500']);
      const env = startCli(s, [...relayCliArgs(dir), ...registry], {
        env: { BURROW_CAPACITY: '250' },
      });
      for (const [relay, want] of [
        [flag, '500'],
        [env, '250'],
      ] as const) {
        const id = (await relay.waitForLine(started, { stream: 'stdout' }))[1] ?? '';
        await waitFor(() => redis.cli('HGET', `${REGISTRY_RELAY_KEY}${id}`, 'capacity') === want, {
          what: `relay ${id} to publish capacity ${want}`,
        });
      }
      const bad = await runCommand(
        s,
        process.execPath,
        [CLI_PATH, ...relayCliArgs(dir), '--capacity', 'lots'],
        { env: { BURROW_DATA_DIR: dir }, timeoutMs: 15_000 },
      );
      assert.equal(bad.code, 2);
      assert.equal(
        bad.stderr,
        'burrow: --capacity: expected a whole number from 0 to 100000000, got "lots"\n',
      );
    }));
});
