import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { test } from 'node:test';
import { DialError, type PeerLink, PeerLinks } from './peer-links.js';

class FakeLink implements PeerLink {
  isLost = false;
  closed = false;
  openDirect(): Promise<Duplex> {
    return Promise.reject(new Error('not used'));
  }
  close(): void {
    this.closed = true;
  }
}

/** A dial whose outcome each test decides; records every call. */
function harness() {
  let t = 0;
  const calls: { address: string; lost: () => void; settle: (r: FakeLink | DialError) => void }[] =
    [];
  const links = new PeerLinks({
    now: () => t,
    downForMs: 1000,
    dial: (address, lost) =>
      new Promise<PeerLink>((resolve, reject) => {
        calls.push({
          address,
          lost,
          settle: (r) => (r instanceof DialError ? reject(r) : resolve(r)),
        });
      }),
  });
  return { links, calls, advance: (ms: number) => (t += ms) };
}

test('concurrent first uses share one dial, and later uses the open link', async () => {
  const { links, calls } = harness();
  const p1 = links.get('a:1');
  const p2 = links.get('a:1');
  assert.equal(calls.length, 1);
  const link = new FakeLink();
  calls[0]?.settle(link);
  assert.equal(await p1, link);
  assert.equal(await p2, link);
  assert.equal(await links.get('a:1'), link);
  assert.equal(calls.length, 1);
  links.get('b:1').catch(() => {});
  assert.equal(calls.length, 2, 'another peer gets its own link');
});

test('a failed dial fails every use at once for downForMs, then dials again', async () => {
  const { links, calls, advance } = harness();
  const first = links.get('a:1');
  calls[0]?.settle(new DialError('unreachable', 'ECONNREFUSED'));
  await assert.rejects(first, (e: DialError) => e.code === 'unreachable');
  advance(999);
  await assert.rejects(links.get('a:1'), /ECONNREFUSED/);
  assert.equal(calls.length, 1, 'no dial while known down');
  advance(1);
  const again = links.get('a:1');
  assert.equal(calls.length, 2);
  const link = new FakeLink();
  calls[1]?.settle(link);
  assert.equal(await again, link);
});

test('a lost link is forgotten and the next use dials again; close closes links', async () => {
  const { links, calls } = harness();
  const p = links.get('a:1');
  const link = new FakeLink();
  calls[0]?.settle(link);
  await p;
  calls[0]?.lost();
  const next = links.get('a:1');
  assert.equal(calls.length, 2);
  const link2 = new FakeLink();
  calls[1]?.settle(link2);
  assert.equal(await next, link2);
  links.close();
  await new Promise((r) => setImmediate(r));
  assert.ok(link2.closed);
  await assert.rejects(links.get('a:1'), DialError);
});
