import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Http1Error, MAX_HEAD, ResponseReader } from './http1.js';

const answer = (body: string, status = '200 OK', extra = '') =>
  `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n` +
  `Date: Sun, 06 Dec 2026 11:00:00 GMT\r\nConnection: keep-alive\r\n\r\n${body}`;

const ONE = answer('{"relays":[{"id":"a#1","address":"127.0.0.1:2222"}]}');
const TWO = answer(
  '{"error":{"code":"BAD_REQUEST","message":"name is required"}}',
  '400 Bad Request',
);

function readAll(chunks: Buffer[]): { status: number; body: string }[] {
  const r = new ResponseReader();
  return chunks.flatMap((c) =>
    r.feed(c).map((x) => ({ status: x.status, body: x.body.toString() })),
  );
}

describe('ResponseReader', () => {
  it('reads two responses from one chunk, in order', () => {
    assert.deepEqual(readAll([Buffer.from(ONE + TWO)]), [
      { status: 200, body: '{"relays":[{"id":"a#1","address":"127.0.0.1:2222"}]}' },
      { status: 400, body: '{"error":{"code":"BAD_REQUEST","message":"name is required"}}' },
    ]);
  });

  it('reads the same whatever byte boundary the stream is split at', () => {
    const bytes = Buffer.from(ONE + TWO);
    const whole = readAll([bytes]);
    for (let i = 1; i < bytes.length; i++) {
      assert.deepEqual(readAll([bytes.subarray(0, i), bytes.subarray(i)]), whole, `split at ${i}`);
    }
    assert.deepEqual(readAll([...bytes].map((b) => Buffer.from([b]))), whole, 'one byte at a time');
  });

  it('reads an empty body', () => {
    assert.deepEqual(readAll([Buffer.from(answer('', '204 No Content'))]), [
      { status: 204, body: '' },
    ]);
  });

  const refused: [string, string, RegExp][] = [
    [
      'a chunked response',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
      /without Content-Length/,
    ],
    ['not HTTP', 'SSH-2.0-OpenSSH_9.2\r\n\r\n', /not an HTTP\/1\.x status line/],
    ['a huge body', 'HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n', /body of 99999999/],
    ['an endless head', `HTTP/1.1 200 OK\r\nX: ${'a'.repeat(MAX_HEAD)}`, /head too long/],
  ];
  for (const [what, text, message] of refused) {
    it(`refuses ${what}`, () => {
      assert.throws(
        () => new ResponseReader().feed(Buffer.from(text)),
        (err: unknown) => {
          assert.ok(err instanceof Http1Error);
          assert.match(err.message, message);
          return true;
        },
      );
    });
  }
});
