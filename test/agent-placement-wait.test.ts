/**
 * How long `burrow agent --coordinator` waits for a slow answer. With a `--relay` list it gives
 * the coordinator 2 s and then uses the list; with none, giving up early would only ask again at
 * the back of the same queue, so it waits as long as a connection attempt (`--connect-timeout`).
 * A real relay, redis-server and OpenSSH; the coordinator is a small HTTP server in the test that
 * answers placement after 3 s.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { it } from 'node:test';
import { startCluster } from './helpers/cluster.js';
import { waitFor, withScope } from './helpers/index.js';

const ANSWER_AFTER_MS = 3000;

it('waits up to --connect-timeout for a slow coordinator without --relay, 2 s with it', async (t) =>
  withScope(t, async (s) => {
    const c = await startCluster(s, { relays: 1 });
    const relay = c.nodes[0]!;
    const questions: string[] = [];
    const slow = createServer((req, res) => {
      questions.push(req.url ?? '');
      const timer = setTimeout(() => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ relays: [{ id: relay.id, address: relay.addr }] }));
      }, ANSWER_AFTER_MS);
      res.on('close', () => clearTimeout(timer));
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    s.defer(
      () =>
        new Promise<void>((resolve) => {
          slow.closeAllConnections();
          slow.close(() => resolve());
        }),
      'slow coordinator',
    );
    const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;

    // No --relay: one question, answered after 3 s, and the device is registered on its relay.
    const patient = c.startAgent(
      'dev1',
      [],
      ['--coordinator', url, '--connect-timeout', '8s', '--log-format', 'json'],
    );
    await waitFor(() => c.record('dev1').relayId === relay.id, {
      what: 'dev1 registered where the slow coordinator said',
      timeoutMs: 15_000,
    });
    assert.equal(questions.length, 1, questions.join(', '));
    assert.doesNotMatch(patient.output(), /did not answer within/);
    await patient.stop();
    await waitFor(() => c.record('dev1').relayId === undefined, { what: 'dev1 released' });

    // With --relay: the coordinator gets 2 s, then the list is used.
    questions.length = 0;
    const listed = c.startAgent(
      'dev1',
      [relay],
      ['--coordinator', url, '--connect-timeout', '8s', '--log-format', 'json'],
    );
    await listed.waitForLine(/did not answer within 2000 ms; using --relay/, { timeoutMs: 10_000 });
    await waitFor(() => c.record('dev1').relayId === relay.id, {
      what: 'dev1 registered from --relay',
    });
    assert.equal(questions.length, 1, questions.join(', '));
  }));
