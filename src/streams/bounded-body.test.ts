import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readBodyUpTo } from './bounded-body.js';

/** A body sent as `chunks`, each its own read, that records whether it was cancelled. */
function chunked(chunks: (string | Uint8Array)[], headers: Record<string, string> = {}) {
  const state = { cancelled: false, pulled: 0 };
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = chunks[state.pulled++];
      if (next === undefined) controller.close();
      else controller.enqueue(typeof next === 'string' ? new TextEncoder().encode(next) : next);
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return { res: new Response(body, { headers }), state };
}

describe('readBodyUpTo', () => {
  const cases: {
    name: string;
    chunks: (string | Uint8Array)[];
    max: number;
    want: string | undefined;
  }[] = [
    { name: 'empty', chunks: [], max: 4, want: '' },
    { name: 'under the ceiling', chunks: ['ab', 'c'], max: 4, want: 'abc' },
    { name: 'exactly the ceiling', chunks: ['ab', 'cd'], max: 4, want: 'abcd' },
    { name: 'one byte over', chunks: ['ab', 'cde'], max: 4, want: undefined },
    {
      name: 'a UTF-8 character split across reads',
      chunks: [Uint8Array.of(0xc3), Uint8Array.of(0xa9, 0x21)],
      max: 8,
      want: 'é!',
    },
  ];
  for (const c of cases) {
    it(`${c.name}: ${JSON.stringify(c.want)}`, async () => {
      const { res } = chunked(c.chunks);
      assert.equal(await readBodyUpTo(res, c.max), c.want);
    });
  }

  it('stops reading and cancels the body once it passes the ceiling', async () => {
    const { res, state } = chunked(['abc', 'def', 'ghi', 'jkl']);
    assert.equal(await readBodyUpTo(res, 4), undefined);
    assert.equal(state.cancelled, true);
    assert.ok(state.pulled <= 3, `read ${state.pulled} chunks of 4`);
  });

  it('refuses at once, reading nothing, when Content-Length is over the ceiling', async () => {
    const { res, state } = chunked(['ab'], { 'content-length': '5' });
    assert.equal(await readBodyUpTo(res, 4), undefined);
    assert.equal(state.cancelled, true);
  });

  it('gives an empty string for an answer with no body', async () => {
    assert.equal(await readBodyUpTo(new Response(null, { status: 204 }), 4), '');
  });
});
