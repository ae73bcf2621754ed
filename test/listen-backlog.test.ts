/**
 * `burrow coordinator` and `burrow relay` under a storm of new connections: when a relay dies its
 * devices all ask the coordinator and reconnect at once, so each listener must let the kernel
 * queue far more than Node's default 511 connections. The process is stopped (SIGSTOP) so it
 * accepts nothing; every connection must still complete its TCP handshake, which the kernel does
 * only while the accept queue has room.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { it } from 'node:test';
import { startCoordinatorCli } from './helpers/coordinator.js';
import { type Scope, tmpDir, WaitTimeoutError, waitFor, withScope } from './helpers/index.js';
import { startRedis } from './helpers/redis.js';
import { relayCliArgs, startCli } from './helpers/relay.js';

const STORM = 1000;

function checkSomaxconn(): void {
  const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
  assert.ok(
    somaxconn > STORM,
    `net.core.somaxconn is ${somaxconn}; this test needs more than ${STORM}`,
  );
}

/** Stops `pid`, opens STORM connections to `port`, and asserts the kernel queued them all. */
async function assertStormQueued(s: Scope, pid: number, port: number): Promise<void> {
  process.kill(pid, 'SIGSTOP');
  s.defer(() => {
    process.kill(pid, 'SIGCONT');
  }, 'resume the listener');
  const sockets: Socket[] = [];
  s.defer(() => {
    for (const c of sockets) c.destroy();
  }, 'storm sockets');
  let connected = 0;
  const errors: string[] = [];
  for (let i = 0; i < STORM; i++) {
    const c = connect({ host: '127.0.0.1', port });
    c.on('connect', () => connected++);
    c.on('error', (err) => errors.push(err.message));
    sockets.push(c);
  }
  // A SYN dropped for a full queue is retransmitted after 1 s, and dropped again: waiting
  // 3 s tells a queue that holds them all from one that holds 512.
  await waitFor(() => connected === STORM, {
    what: `all ${STORM} connections to be queued (${connected} so far)`,
    timeoutMs: 3000,
  }).catch((err: unknown) => {
    if (!(err instanceof WaitTimeoutError)) throw err;
  });
  assert.deepEqual(errors, []);
  assert.equal(connected, STORM, `only ${connected} of ${STORM} connections were queued`);
}

it('the coordinator queues a storm of 1 000 connections while too busy to accept them', async (t) => {
  checkSomaxconn();
  await withScope(t, async (s) => {
    const { proc: coordinator, port } = await startCoordinatorCli(s, await startRedis(s));
    await assertStormQueued(s, coordinator.pid, port);
  });
});

it('the relay queues a storm of 1 000 connections while too busy to accept them', async (t) => {
  checkSomaxconn();
  await withScope(t, async (s) => {
    const dir = await tmpDir(s);
    writeFileSync(join(dir, 'authorized_keys'), '', { mode: 0o600 });
    const relay = startCli(s, relayCliArgs(dir), { name: 'relay' });
    const m = await relay.waitForLine(/"event":"relay.started".*"listen":"127\.0\.0\.1:(\d+)"/, {
      stream: 'stdout',
    });
    const port = Number(m[1]);
    await assertStormQueued(s, relay.pid, port);
  });
});
