/**
 * A jump of the relay's wall clock neither shortens nor lengthens a per-source penalty: the
 * penalty is measured on a monotonic clock. (On the wall clock, a jump forward would let a
 * penalised source straight back in, and a jump back would lock it out for the size of the jump.)
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { withScope } from './helpers/index.js';
import { startTestRelay } from './helpers/relay.js';

/** Connects; 'admitted' once the relay sends its SSH version line, 'refused' if it closes first. */
function probe(port: number): Promise<'admitted' | 'refused'> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no banner and no close within 5 s'));
    }, 5000);
    socket.once('data', (chunk) => {
      clearTimeout(timer);
      assert.match(String(chunk), /^SSH-2\.0-/);
      socket.destroy();
      resolve('admitted');
    });
    socket.once('error', () => {});
    socket.once('close', () => {
      clearTimeout(timer);
      resolve('refused');
    });
  });
}

describe('relay clock', () => {
  it('keeps a per-source penalty for its own length when the wall clock jumps', async (t) =>
    withScope(t, async (s) => {
      const clock = { offset: 0 };
      const relay = await startTestRelay(s, {
        policy: [],
        now: () => Date.now() + clock.offset,
        config: {
          penalties: {
            add: { authfail: 3000, noauth: 3000, 'grace-exceeded': 3000, 'max-per-source': 0 },
            minMs: 3000,
            maxMs: 3000,
            maxSources: 100,
            overflow: 'permissive',
          },
        },
      });
      // A connection that closes without authenticating earns 127.0.0.1 a 3 s penalty.
      assert.equal(await probe(relay.port), 'admitted');
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(await probe(relay.port), 'refused', 'penalised');

      clock.offset = 3_600_000; // an hour forward: the penalty is not over
      assert.equal(await probe(relay.port), 'refused', 'still penalised after a jump forward');

      clock.offset = -3_600_000; // an hour back: the penalty still ends about 3 s after it began
      await new Promise((r) => setTimeout(r, 3500));
      assert.equal(await probe(relay.port), 'admitted', 'let in again after a jump back');
    }));
});
