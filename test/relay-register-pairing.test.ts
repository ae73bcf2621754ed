/**
 * A device's registrations in flight at once each learn their own refusal reason. The relay says
 * why it refused a registration in a debug message naming the request; the client pairs the reason
 * with that request, not with whichever registration happens to be answered next. Driven through
 * the agent's real client (RelayLink) against an in-process relay.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { RelayLink } from '../src/ssh/client.js';
import { type KeyPair, type Scope, withScope } from './helpers/index.js';
import { startTestRelay, type TestRelay } from './helpers/relay.js';
import { keys, line } from './helpers/relay-fixtures.js';

async function link(s: Scope, relay: TestRelay, key: KeyPair): Promise<RelayLink> {
  const trusted = relay.hostKeyPub.split(' ')[1];
  const l = await RelayLink.connect(
    {
      host: '127.0.0.1',
      port: relay.port,
      username: 'device',
      privateKey: await readFile(key.path, 'utf8'),
      verifyHostKey: (blob) => ({ ok: blob.toString('base64') === trusted }),
      keepaliveIntervalMs: 5000,
      keepaliveCountMax: 3,
      connectTimeoutMs: 10_000,
    },
    { channel: (_info, _accept, reject) => reject(), drain: () => {}, lost: () => {} },
  );
  s.defer(() => l.close(), `link for ${key.comment}`);
  return l;
}

describe('relay: refusal reasons reach the registration they belong to', () => {
  it('three registrations in flight: name held, accepted, not permitted', async (t) =>
    withScope(t, async (s) => {
      const [holder, device] = await keys(s, 'holder', 'device');
      const relay = await startTestRelay(s, {
        policy: [
          line(holder!, 'permitlisten="taken:*"'),
          line(device!, 'permitlisten="taken:*"', 'permitlisten="mine:*"'),
        ],
      });
      const first = await (await link(s, relay, holder!)).register('taken', 22);
      assert.deepEqual(first, { ok: true });

      const l = await link(s, relay, device!);
      const results = await Promise.all([
        l.register('taken', 22),
        l.register('mine', 22),
        l.register('forbidden', 22),
      ]);
      assert.deepEqual(results, [
        { ok: false, reason: 'name-held' },
        { ok: true },
        { ok: false, reason: 'not-permitted' },
      ]);
      // The relay's own account agrees, so the reasons above are the relay's, not a guess.
      assert.deepEqual(
        relay.audit.all('name.refused').map((e) => [e.request, e.reason]),
        [
          ['taken:22', 'name-held'],
          ['forbidden:22', 'not-permitted'],
        ],
      );
    }));
});
