import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import { listenHttp } from './http-listener.js';

const hello = () => createServer((_req, res) => res.end('hello'));

describe('listenHttp', () => {
  it('listens with the HTTP timeouts, answers, and closes once however often asked', async () => {
    let released = 0;
    const server = hello();
    const l = await listenHttp(server, { host: '127.0.0.1', port: 0 }, () => released++);
    assert.equal(server.headersTimeout, 10_000);
    assert.equal(server.requestTimeout, 15_000);
    const { host, port } = l.address();
    assert.equal(host, '127.0.0.1');
    assert.ok(port > 0);
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'hello');
    const first = l.close();
    assert.equal(l.close(), first, 'close() is idempotent');
    await first;
    assert.equal(released, 1);
    assert.equal(server.listening, false);
  });

  it('rejects with the listen error and releases when the port is taken', async () => {
    const taken = await listenHttp(hello(), { host: '127.0.0.1', port: 0 });
    try {
      let released = 0;
      await assert.rejects(
        listenHttp(hello(), { host: '127.0.0.1', port: taken.address().port }, () => released++),
        { code: 'EADDRINUSE' },
      );
      assert.equal(released, 1);
    } finally {
      await taken.close();
    }
  });
});
