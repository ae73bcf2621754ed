/**
 * `burrow coordinator` under a storm of new connections: when a relay dies its devices all ask at
 * once, so the listener must let the kernel queue far more than Node's default 511 connections.
 * The coordinator is stopped (SIGSTOP) so it accepts nothing; every connection must still
 * complete its TCP handshake, which the kernel does only while the accept queue has room.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { it } from 'node:test';
import { freePort, WaitTimeoutError, waitFor, withScope } from './helpers/index.js';
import { startRedis } from './helpers/redis.js';
import { startCli } from './helpers/relay.js';

const STORM = 1000;

it('queues a storm of 1 000 connections while it is too busy to accept them', async (t) => {
  const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
  assert.ok(
    somaxconn > STORM,
    `net.core.somaxconn is ${somaxconn}; this test needs more than ${STORM}`,
  );
  await withScope(t, async (s) => {
    const redis = await startRedis(s);
    const port = await freePort();
    const coordinator = startCli(
      s,
      ['coordinator', '--registry', redis.url, '--listen', `127.0.0.1:${port}`],
      { name: 'coordinator' },
    );
    await coordinator.waitForLine(/coordinator listening on/, { stream: 'stderr' });
    process.kill(coordinator.pid, 'SIGSTOP');
    s.defer(() => {
      process.kill(coordinator.pid, 'SIGCONT');
    }, 'resume the coordinator');
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
  });
});
