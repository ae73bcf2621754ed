/**
 * Relays sharing one real redis-server, each a `burrow relay` process: a name is owned
 * cluster-wide (another key refused on every relay, the same key takes it over and the relay it
 * left closes the stale connection), Redis restarting empty or unreachable for a while costs no
 * connection and converges to one holder per name, and SIGTERM publishes `draining` at once.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REGISTRY_NAME_KEY, REGISTRY_RELAY_KEY } from '../src/core/constants.js';
import { clientForRelays, type RegistryRelay, startRegistryRelay } from './helpers/cluster.js';
import {
  fingerprintOf,
  generateKey,
  type KeyPair,
  type Proc,
  runCommand,
  type Scope,
  type SshClient,
  tmpDir,
  waitFor,
  within,
  withScope,
} from './helpers/index.js';
import { type RedisServer, startRedis } from './helpers/redis.js';
import { CLI_PATH } from './helpers/relay.js';

/** `ssh -N -R NAME:22:…` on `alias`, once the relay has audited the registration. */
async function register(
  ssh: SshClient,
  relay: RegistryRelay,
  alias: string,
  name: string,
  fp: string,
): Promise<Proc> {
  const before = relay.audited('name.registered').length;
  const proc = ssh.spawn(
    ['-N', '-o', 'ExitOnForwardFailure=yes', '-R', `${name}:22:127.0.0.1:9`, alias],
    { name: `${name} on ${alias}` },
  );
  await waitFor(
    () => {
      if (proc.exit) throw new Error(`ssh -R ${name} on ${alias} exited: ${proc.tail()}`);
      return relay
        .audited('name.registered')
        .slice(before)
        .some((e) => e.name === name && e.fp === fp);
    },
    { what: `${alias} to register ${name}` },
  );
  return proc;
}

function record(redis: RedisServer, name: string): { owner: string; relayId: string } {
  const [owner = '', relayId = ''] = redis
    .cli('HMGET', REGISTRY_NAME_KEY + name, 'owner', 'relayId')
    .split('\n');
  return { owner, relayId };
}

async function setUp(s: Scope, policy: (k: KeyPair, j: KeyPair) => string) {
  const redis = await startRedis(s);
  const dir = await tmpDir(s);
  const k = await generateKey(dir, 'key-k');
  const j = await generateKey(dir, 'key-j');
  writeFileSync(join(dir, 'authorized_keys'), policy(k, j));
  return { redis, dir, k, j, fpK: await fingerprintOf(k.path), fpJ: await fingerprintOf(j.path) };
}

describe('cluster: names owned across relays', () => {
  it('refuses another key on any relay and lets the same key take the name over', async (t) =>
    withScope(t, async (s) => {
      const { redis, dir, k, j, fpK, fpJ } = await setUp(
        s,
        (k, j) => `permitlisten="dev1:22" ${k.publicKey}\npermitlisten="dev1:22" ${j.publicKey}\n`,
      );
      const A = await startRegistryRelay(s, dir, 'a', redis);
      const B = await startRegistryRelay(s, dir, 'b', redis);
      const C = await startRegistryRelay(s, dir, 'c', redis);
      const relays = { A, B, C };
      const sshK = await clientForRelays(s, k, relays);
      const sshJ = await clientForRelays(s, j, relays);

      const onA = await register(sshK, A, 'A', 'dev1', fpK);
      assert.deepEqual(record(redis, 'dev1'), { owner: fpK, relayId: A.id });

      const refused = await sshJ.run(
        ['-N', '-o', 'ExitOnForwardFailure=yes', '-R', 'dev1:22:127.0.0.1:9', 'B'],
        { timeoutMs: 15_000 },
      );
      assert.notEqual(refused.code, 0, 'ssh -R of a name another key holds must fail');
      await waitFor(() => B.audited('name.refused').find((e) => e.fp === fpJ), {
        what: 'B to audit the refusal',
      });
      const [onB] = B.audited('name.refused');
      assert.equal(onB?.reason, 'name-held');
      assert.equal(onB?.held_by, fpK);
      assert.deepEqual(record(redis, 'dev1'), { owner: fpK, relayId: A.id });

      const onC = await register(sshK, C, 'C', 'dev1', fpK);
      const movedAt = Date.now();
      await within(onA.stopped(), 5000, 'A to close the stale connection');
      const closedIn = Date.now() - movedAt;
      // The requirement is 1 s (pub/sub); bounded loosely here, measured precisely by the audit.
      assert.ok(closedIn < 3000, `A closed the stale connection ${closedIn} ms after the move`);
      const movedA = A.audited('name.moved');
      assert.equal(movedA.length, 1, JSON.stringify(movedA));
      assert.equal(movedA[0]?.name, 'dev1');
      assert.equal(movedA[0]?.fp, fpK);
      assert.equal(movedA[0]?.from_relay, A.id);
      assert.equal(movedA[0]?.to_relay, C.id);
      // The audit line can reach this process after the ssh client's exit.
      await waitFor(() => A.audited('name.released').length > 0, {
        what: 'A to audit the release',
      });
      assert.ok(
        A.audited('name.released').some((e) => e.name === 'dev1' && e.reason === 'taken-over'),
      );
      await waitFor(() => C.audited('name.moved').length > 0, { what: 'C to audit the move' });
      assert.deepEqual(
        C.audited('name.moved').map((e) => [e.name, e.from_relay, e.to_relay]),
        [['dev1', A.id, C.id]],
      );
      // A's stale connection closing does not release what C now holds.
      await new Promise((r) => setTimeout(r, 1500));
      assert.deepEqual(record(redis, 'dev1'), { owner: fpK, relayId: C.id });
      assert.equal(onC.exit, undefined, 'the device on C stays connected');
    }));

  it('Redis restarted empty: every name is back within one heartbeat, no connection dropped', async (t) =>
    withScope(t, async (s) => {
      const { redis, dir, k, j, fpK, fpJ } = await setUp(
        s,
        (k, j) => `permitlisten="dev1:22" ${k.publicKey}\npermitlisten="dev2:22" ${j.publicKey}\n`,
      );
      const A = await startRegistryRelay(s, dir, 'a', redis);
      const B = await startRegistryRelay(s, dir, 'b', redis);
      const dev1 = await register(await clientForRelays(s, k, { A }), A, 'A', 'dev1', fpK);
      const dev2 = await register(await clientForRelays(s, j, { B }), B, 'B', 'dev2', fpJ);

      await redis.restart();
      const back = Date.now();
      assert.equal(redis.cli('EXISTS', `${REGISTRY_NAME_KEY}dev1`), '0', 'Redis came back empty');
      await waitFor(
        () =>
          record(redis, 'dev1').relayId === A.id &&
          record(redis, 'dev2').relayId === B.id &&
          redis.cli('EXISTS', REGISTRY_RELAY_KEY + A.id, REGISTRY_RELAY_KEY + B.id) === '2',
        { what: 'both names and relay records to be republished' },
      );
      const took = Date.now() - back;
      // One heartbeat (1 s) plus the client's reconnect backoff (at most 1 s).
      assert.ok(took < 3000, `republished ${took} ms after Redis came back`);
      assert.deepEqual(record(redis, 'dev1'), { owner: fpK, relayId: A.id });
      assert.deepEqual(record(redis, 'dev2'), { owner: fpJ, relayId: B.id });
      assert.equal(dev1.exit, undefined, 'dev1 stays connected');
      assert.equal(dev2.exit, undefined, 'dev2 stays connected');
      for (const r of [A, B]) {
        assert.deepEqual(r.audited('conn.closed'), []);
        assert.ok(r.audited('registry.lost').length <= 1, 'an outage is audited once');
      }
    }));

  it('Redis unreachable: registrations are accepted locally, then converge to one holder', async (t) =>
    withScope(t, async (s) => {
      const { redis, dir, k, j, fpK, fpJ } = await setUp(
        s,
        (k, j) => `permitlisten="dev1:22" ${k.publicKey}\npermitlisten="dev1:22" ${j.publicKey}\n`,
      );
      const A = await startRegistryRelay(s, dir, 'a', redis);
      const B = await startRegistryRelay(s, dir, 'b', redis);
      const sshK = await clientForRelays(s, k, { A });
      const sshJ = await clientForRelays(s, j, { B });
      const first = await register(sshK, A, 'A', 'dev1', fpK);

      await redis.stop();
      for (const r of [A, B]) {
        await waitFor(() => r.audited('registry.lost').length > 0, {
          what: `${r.id} to audit the outage`,
        });
      }
      // The device reconnects to its relay meanwhile: accepted, no other key holds it here.
      await first.stop();
      const again = await register(sshK, A, 'A', 'dev1', fpK);
      // Another key registers the same name on another relay meanwhile: B cannot know.
      const rival = await register(sshJ, B, 'B', 'dev1', fpJ);
      assert.equal(A.audited('name.refused').length, 0);
      assert.equal(B.audited('name.refused').length, 0);

      await redis.restart();
      await waitFor(
        () =>
          A.audited('registry.restored').length > 0 &&
          B.audited('registry.restored').length > 0 &&
          A.audited('name.dropped').length + B.audited('name.dropped').length > 0,
        { what: 'both relays to reconcile with Redis' },
      );
      const holder = record(redis, 'dev1');
      const [winner, loser, loserProc, winnerProc] =
        holder.relayId === A.id ? [A, B, rival, again] : [B, A, again, rival];
      assert.deepEqual(holder, {
        owner: winner === A ? fpK : fpJ,
        relayId: winner.id,
      });
      await within(loserProc.stopped(), 5000, "the loser's connection to close");
      const dropped = loser.audited('name.dropped');
      assert.equal(dropped.length, 1, JSON.stringify(dropped));
      assert.equal(dropped[0]?.name, 'dev1');
      assert.equal(dropped[0]?.held_by, holder.owner);
      assert.equal(dropped[0]?.held_by_relay, winner.id);
      assert.equal(winner.audited('name.dropped').length, 0);
      assert.equal(winnerProc.exit, undefined, 'the holder stays connected');
      // The outage is audited once per relay, however many requests it met.
      for (const r of [A, B]) {
        assert.equal(r.audited('registry.lost').length, 1);
        assert.equal(r.audited('registry.restored').length, 1);
      }
      assert.equal(A.audited('registry.restored')[0]?.accepted, 1);
      // Converged: the record stays with the winner through later heartbeats.
      await new Promise((r) => setTimeout(r, 1500));
      assert.deepEqual(record(redis, 'dev1'), holder);
    }));

  it('SIGTERM marks the relay draining in the registry at once', async (t) =>
    withScope(t, async (s) => {
      const { redis, dir, k, fpK } = await setUp(
        s,
        (k) => `permitlisten="dev1:22" ${k.publicKey}\n`,
      );
      // A heartbeat far longer than the wait below: only an immediate publication passes.
      const A = await startRegistryRelay(s, dir, 'a', redis, [
        ...['--registry-ttl', '30s', '--heartbeat-interval', '10s', '--drain-grace', '5s'],
      ]);
      await register(await clientForRelays(s, k, { A }), A, 'A', 'dev1', fpK);
      const key = REGISTRY_RELAY_KEY + A.id;
      await waitFor(() => redis.cli('HGET', key, 'draining') === '0', {
        what: 'the relay record to be published at start',
      });
      A.proc.signal('SIGTERM');
      await waitFor(() => redis.cli('HGET', key, 'draining') === '1', {
        what: 'the relay record to say draining',
        timeoutMs: 3000,
      });
    }));

  it('refuses a heartbeat interval that is not under half the TTL, naming the flag', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      const run = (args: string[], env: Record<string, string> = {}) =>
        runCommand(
          s,
          process.execPath,
          [CLI_PATH, 'relay', '--listen', '127.0.0.1:0', '--host-key', join(dir, 'k'), ...args],
          { env: { BURROW_DATA_DIR: dir, ...env }, timeoutMs: 15_000 },
        );
      const tooSlow = await run(['--registry-ttl', '3s', '--heartbeat-interval', '1.5s']);
      assert.equal(tooSlow.code, 2);
      assert.equal(
        tooSlow.stderr,
        'burrow: --heartbeat-interval: must be under half of --registry-ttl (3s), got "1.5s"\n',
      );
      const fromEnv = await run([], { BURROW_REGISTRY_TTL: 'soon' });
      assert.equal(fromEnv.code, 2);
      assert.equal(
        fromEnv.stderr,
        'burrow: --registry-ttl: expected a duration like 5s, 500ms or 2m, got "soon"\n',
      );
    }));
});
