/**
 * Idle authenticated connections: how much a crowd of do-nothing keys costs a legitimate user.
 *
 * On 127.0.0.1, in one Scope: a device sshd, a `burrow relay` process where the device
 * registered `dev1:22` (`ssh -N -R`, real OpenSSH), and an operator reaching it with
 * `ssh -J relay root@dev1 true` (real OpenSSH). Connect latency (process start to exit) is
 * measured `runs` times quiet, then again while `connections` authenticated connections from
 * `keys` do-nothing keys (policy lines with no permits) are held open by ssh2 clients in this
 * process, answering the relay's keepalives and asking for nothing.
 *
 * The relay runs with --max-connections-per-key set to just fit the crowd (connections / keys,
 * rounded up) and --max-connections-per-source to fit it from one loopback address; a connection
 * the relay refuses anyway fails the measurement.
 */

import { generateEd25519, toSsh2Key } from '../../src/ssh/keys.js';
import ssh2 from '../../src/ssh/ssh2.js';
import {
  createSshClient,
  generateKey,
  Scope,
  startSshd,
  tmpDir,
  waitFor,
} from '../../test/helpers/index.js';
import { rssKiB } from '../lib/procfs.js';
import { median, percentile, round } from '../lib/stats.js';
import { countAudit, startRelayProcess } from '../relay/world.js';

export interface IdleKeysOptions {
  /** Idle authenticated connections held during the loaded phase (the bench uses 1 000). */
  connections: number;
  /** Do-nothing keys the connections are spread over, round-robin. */
  keys: number;
  /** Timed `ssh -J relay root@dev1 true` runs per phase (after 2 warm-up runs). */
  runs: number;
  log: (line: string) => void;
}

export interface IdleKeysResult {
  quietP50Ms: number;
  loadedP50Ms: number;
  loadedP95Ms: number;
  /** Idle connections the relay held open during the loaded phase. */
  connections: number;
  /** Relay resident memory with the crowd connected. */
  relayRssMiB: number;
}

/** Idle connections opened at once while building the crowd (pre-auth caps stay far away). */
const CONCURRENCY = 32;
const WARMUP = 2;

export async function measureIdleKeys(opts: IdleKeysOptions): Promise<IdleKeysResult> {
  const { connections, keys, runs, log } = opts;
  if (!(connections >= 1 && keys >= 1 && runs >= 1)) {
    throw new Error('measureIdleKeys: connections, keys and runs must be at least 1');
  }
  const scope = new Scope();
  try {
    const dir = await tmpDir(scope, 'burrow-bench-idle-');
    const deviceKey = await generateKey(dir, 'device_key');
    const operatorKey = await generateKey(dir, 'operator_key');
    const idleKeys = Array.from({ length: keys }, (_, i) => generateEd25519(`idle-${i}`));
    const device = await startSshd(scope, { name: 'device-sshd', authorizedKeys: [operatorKey] });
    const relay = await startRelayProcess(scope, {
      dir,
      policy: [
        `permitlisten="dev1:22" ${deviceKey.publicKey} device`,
        `permitopen="dev1:22" ${operatorKey.publicKey} operator`,
        ...idleKeys.map((k) => k.publicLine),
      ],
      args: [
        '--max-connections-per-key',
        String(Math.ceil(connections / keys)),
        '--max-connections-per-source',
        String(connections + 16),
      ],
      fdLimit: Math.max(4096, connections * 2 + 256),
    });

    const deviceSsh = await createSshClient(scope, { identity: deviceKey });
    deviceSsh.addHost({ alias: 'relay', port: relay.port, user: 'dev', hostKey: relay.hostKeyPub });
    const tunnel = deviceSsh.spawn(['-N', '-R', `dev1:22:127.0.0.1:${device.port}`, 'relay'], {
      name: 'device -R relay',
    });
    await waitFor(
      async () => {
        if (tunnel.exit) throw new Error(`device tunnel exited:\n${tunnel.tail()}`);
        return (await countAudit(relay.auditPath, 'name.registered')) >= 1;
      },
      { what: 'the device to register dev1:22', timeoutMs: 15_000 },
    );

    const op = await createSshClient(scope, { identity: operatorKey });
    op.addHost({ alias: 'relay', port: relay.port, user: 'op', hostKey: relay.hostKeyPub });
    op.addHost({ alias: 'dev1', hostName: null, user: 'root', proxyJump: 'relay' });
    op.trust('dev1', device.hostKeyPub);

    const timeConnects = async (phase: string): Promise<number[]> => {
      const samples: number[] = [];
      for (let i = 0; i < WARMUP + runs; i++) {
        const t0 = performance.now();
        const r = await op.run(['dev1', 'true'], { timeoutMs: 60_000 });
        const ms = performance.now() - t0;
        if (r.code !== 0)
          throw new Error(`${phase}: ssh -J relay dev1 true: exit ${r.code}\n${r.stderr}`);
        if (i >= WARMUP) samples.push(ms);
      }
      log(`idle-keys: ${phase}: p50 ${round(median(samples))} ms over ${runs} runs`);
      return samples;
    };

    const quiet = await timeConnects('quiet');

    const sshKeys = idleKeys.map((k) => toSsh2Key(k.privateKey));
    const clients: ssh2.Client[] = [];
    scope.defer(() => {
      for (const c of clients) c.destroy();
    }, 'idle ssh2 clients');
    let next = 0;
    let refused = 0;
    const openOne = (i: number) =>
      new Promise<void>((resolve) => {
        const c = new ssh2.Client();
        clients.push(c);
        c.on('ready', () => resolve());
        c.on('error', () => {});
        c.on('close', () => {
          refused += 1;
          resolve();
        });
        c.connect({
          host: '127.0.0.1',
          port: relay.port,
          username: 'idle',
          authHandler: [{ type: 'publickey', username: 'idle', key: sshKeys[i % keys] }] as never,
          readyTimeout: 60_000,
          // The relay is this process's own; pinning its key adds nothing to a load measurement.
          hostVerifier: () => true,
        });
      });
    const worker = async () => {
      while (next < connections && refused === 0) await openOne(next++);
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, connections) }, worker));
    if (refused > 0) throw new Error(`idle-keys: the relay closed ${refused} idle connection(s)`);
    log(
      `idle-keys: ${connections} idle connections from ${keys} keys in ${round(performance.now() - started)} ms`,
    );
    // The device's, the quiet phase's (warm-up included) and the crowd's authentications; the
    // audit file is written asynchronously, so wait for it to catch up.
    const want = 1 + (WARMUP + runs) + connections;
    await waitFor(async () => (await countAudit(relay.auditPath, 'auth.accepted')) === want, {
      what: `${want} auth.accepted lines in the relay's audit`,
      timeoutMs: 15_000,
    });

    const loaded = await timeConnects(`with ${connections} idle connections`);
    const rss = rssKiB(relay.pid) ?? Number.NaN;
    if (refused > 0)
      throw new Error(`idle-keys: ${refused} idle connection(s) closed while measuring`);
    return {
      quietP50Ms: round(median(quiet)),
      loadedP50Ms: round(median(loaded)),
      loadedP95Ms: round(percentile(loaded, 95)),
      connections: clients.length,
      relayRssMiB: round(rss / 1024),
    };
  } finally {
    await scope.close();
  }
}
