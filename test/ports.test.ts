/**
 * The test helpers' port choice (helpers/ports.ts): `onFreePort` runs a server again on another
 * port when its port was taken between the choice and the bind, as parallel test files make
 * happen, and on nothing else.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { describe, it } from 'node:test';
import { onFreePort } from './helpers/index.js';

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          `cannot listen on 127.0.0.1:${port}: ${err.code === 'EADDRINUSE' ? 'address in use' : err.message}`,
        ),
      ),
    );
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => resolve(server));
  });
}

describe('onFreePort', () => {
  it('starts again on another port when the first was taken meanwhile', async () => {
    const tried: number[] = [];
    const servers: Server[] = [];
    try {
      const { port } = await onFreePort(async (p) => {
        tried.push(p);
        // Someone else takes the first port just before the server binds it.
        if (tried.length === 1) servers.push(await listen(p));
        servers.push(await listen(p));
      });
      assert.equal(tried.length, 2);
      assert.equal(port, tried[1]);
    } finally {
      for (const s of servers) s.close();
    }
  });

  it('rethrows any other error at once, and gives up after 5 ports', async () => {
    let calls = 0;
    await assert.rejects(
      onFreePort(async () => {
        calls++;
        throw new Error('the host key is unreadable');
      }),
      /host key is unreadable/,
    );
    assert.equal(calls, 1);
    calls = 0;
    await assert.rejects(
      onFreePort(async (p) => {
        calls++;
        throw new Error(`cannot listen on 127.0.0.1:${p}: address in use`);
      }),
      /address in use/,
    );
    assert.equal(calls, 5);
  });
});
