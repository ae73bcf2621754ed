/**
 * A relay whose clock jumps. The CLI has no clock to set (faketime is not at hand), but the relay
 * takes its clock through `startRelay(config, { now })` and the Redis registry through
 * `RedisRegistry.connect(target, { now })`: two in-process relays on one real redis-server, each
 * with its own clock that the test moves an hour forward or back, a real `ssh -R` device on relay
 * A and a real `ssh -J` operator entering through relay B. Record lifetimes are Redis's own
 * (PEXPIRE), so a jump must change nothing: exactly one holder of dev1 at every sample, and dev1
 * reachable through B after every jump.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { type PeerSet, parsePeers } from '../src/cluster/index.js';
import { REGISTRY_NAME_KEY } from '../src/core/constants.js';
import { parseRegistryUrl } from '../src/registry/index.js';
import { RedisRegistry } from '../src/registry/redis.js';
import { startRelay } from '../src/relay/index.js';
import { PolicyFile } from '../src/relay/policy-file.js';
import { generateEd25519, parseHostKey } from '../src/ssh/keys.js';
import {
  createSshClient,
  generateKey,
  type Scope,
  startSshd,
  tmpDir,
  waitFor,
  withScope,
} from './helpers/index.js';
import { startRedis } from './helpers/redis.js';
import { AuditRecorder, relayClient, TEST_RELAY_DEFAULTS } from './helpers/relay.js';

interface ClockRelay {
  readonly id: string;
  readonly port: number;
  readonly hostKeyPub: string;
  readonly audit: AuditRecorder;
  /** Milliseconds added to the real time on this relay's clock. */
  offset: number;
  /** Whether its local table serves `name`, from its audit trail. */
  holds(name: string): boolean;
}

async function clockRelay(
  s: Scope,
  o: { id: string; redisUrl: string; policyPath: string; peers: PeerSet; hostKey: string },
): Promise<ClockRelay> {
  const audit = new AuditRecorder();
  const lines: string[] = [];
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    }),
  );
  const policy = new PolicyFile(o.policyPath, log, audit);
  s.defer(() => policy.close(), `${o.id} policy`);
  const r = { offset: 0 } as { offset: number };
  const now = () => Date.now() + r.offset;
  const target = parseRegistryUrl(o.redisUrl);
  if (target.kind === 'memory') throw new Error('a Redis URL is needed');
  const registry = await RedisRegistry.connect(target, { now });
  s.defer(() => registry.close(), `${o.id} registry`);
  const hostKey = parseHostKey(o.hostKey, o.id);
  const relay = await startRelay(
    {
      ...TEST_RELAY_DEFAULTS,
      relayId: o.id,
      hostKey,
      registryTtlMs: 3000,
      heartbeatIntervalMs: 1000,
      keepaliveIntervalMs: 1000,
      keepaliveCountMax: 2,
    },
    { policy: policy.current, registry, audit, log, peers: o.peers, now },
  );
  s.defer(() => relay.close(), o.id);
  s.diagnose(`${o.id} log`, () => lines.join(''));
  s.diagnose(`${o.id} audit`, () => audit.dump());
  const port = relay.address().port;
  return Object.assign(r, {
    id: o.id,
    port,
    hostKeyPub: hostKey.publicLine,
    audit,
    holds(name: string) {
      let conn: string | undefined;
      for (const e of audit.events) {
        if (e.event === 'name.registered' && e.name === name) conn = e.conn;
        else if (e.event === 'name.released' && e.name === name && e.conn === conn)
          conn = undefined;
      }
      return conn !== undefined;
    },
  });
}

describe('cluster: a relay whose clock jumps', () => {
  it('an hour forward or back, on the holder or the entry relay: one holder, reachable', async (t) =>
    withScope(t, async (s) => {
      const redis = await startRedis(s);
      const dir = await tmpDir(s);
      const devKey = await generateKey(dir, 'device');
      const opKey = await generateKey(dir, 'operator');
      const sshd = await startSshd(s, { authorizedKeys: [opKey] });
      const policyPath = join(dir, 'authorized_keys');
      await writeFile(
        policyPath,
        `permitlisten="dev1:22" ${devKey.publicKey}\npermitopen="dev1:22" ${opKey.publicKey}\n`,
        { mode: 0o600 },
      );
      const keys = [generateEd25519('clock-a'), generateEd25519('clock-b')];
      const { peers } = parsePeers(keys.map((k) => k.publicLine).join('\n'), 'peers');
      const common = { redisUrl: redis.url, policyPath, peers };
      const A = await clockRelay(s, { ...common, id: 'clock-a', hostKey: keys[0]!.privateKey });
      const B = await clockRelay(s, { ...common, id: 'clock-b', hostKey: keys[1]!.privateKey });

      const device = await relayClient(s, A, devKey);
      device.spawn(['-N', '-R', `dev1:22:127.0.0.1:${sshd.port}`, 'relay'], { name: 'device' });
      await A.audit.wait('name.registered', (e) => e.name === 'dev1');
      const op = await createSshClient(s, { identity: opKey, connectTimeoutSec: 5 });
      op.addHost({ alias: 'relayB', port: B.port, user: 'burrow', hostKey: B.hostKeyPub });
      op.addHost({ alias: 'dev1', hostName: null, user: 'root' });
      op.trust('dev1', sshd.hostKeyPub);
      const recordOwner = () =>
        redis.cli('HMGET', `${REGISTRY_NAME_KEY}dev1`, 'relayId').split('\n')[0] ?? '';
      await waitFor(() => recordOwner() === A.id || undefined, { what: 'dev1 recorded on A' });
      const reach = async () =>
        (await op.run(['-J', 'relayB', 'dev1', 'true'], { timeoutMs: 15_000 })).code === 0;
      assert.equal(await reach(), true, 'dev1 through B before any jump');

      const HOUR = 3_600_000;
      const steps: [ClockRelay, number, string][] = [
        [A, HOUR, 'holder +1 h'],
        [A, -HOUR, 'holder -1 h'],
        [B, HOUR, 'entry +1 h'],
        [B, -HOUR, 'entry -1 h'],
        [A, 0, 'both back'],
      ];
      for (const [relay, offset, what] of steps) {
        relay.offset = offset;
        if (relay === A && offset === 0) B.offset = 0;
        // Two TTLs (6 s) of heartbeats on the jumped clock, sampled every 100 ms.
        const bad: string[] = [];
        for (const until = Date.now() + 6000; Date.now() < until; ) {
          const owner = recordOwner();
          if (owner !== A.id) bad.push(`record ${owner || 'gone'}`);
          if (!A.holds('dev1') || B.holds('dev1')) bad.push('tables');
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.deepEqual(bad, [], `${what}: one holder (A) at every sample`);
        assert.equal(await reach(), true, `${what}: dev1 through B`);
      }
      assert.equal(A.audit.all('registry.lost').length + B.audit.all('registry.lost').length, 0);
    }));
});
