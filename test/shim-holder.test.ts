/**
 * The holder run in this process (no ssh): what it does with socket connections that do not
 * complete a handshake.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { encodeFrame, MAGIC } from '../src/shim/frames.js';
import { type HolderConfig, runHolder } from '../src/shim/holder.js';
import { pumpFor } from '../src/shim/native-pump.js';
import { tmpDir, waitFor, within, withScope } from './helpers/index.js';
import { frameReader, newHello, resumeHello } from './helpers/shim-protocol.js';

for (const path of ['JavaScript', 'native'] as const) {
  describe(`shim holder: socket connections (${path} byte path)`, () => {
    it('closes a connection that presents no hello within the handshake timeout, and keeps one that did', async (t) =>
      withScope(t, async (s) => {
        const dir = await tmpDir(s);
        const socketPath = join(dir, 'h.sock');
        const sessionId = randomBytes(16);
        const secret = randomBytes(32);
        const held = runHolder({
          hello: newHello(sessionId, secret, 'exec cat', 1500) as HolderConfig['hello'],
          socketPath,
          shell: '/bin/sh',
          env: process.env,
          cwd: dir,
          handshakeTimeoutMs: 300,
          ...(path === 'native' ? { pump: pumpFor('require')! } : {}),
        });
        // Ends with the resume window once the test's connections are gone.
        s.defer(() => within(held, 10_000, 'the holder to end'), 'wait for the holder to end');
        await waitFor(
          () =>
            new Promise<boolean>((resolve) => {
              const probe = connect(socketPath, () => resolve(!!probe.destroy()));
              probe.on('error', () => resolve(false));
            }),
          { what: 'the holder to listen' },
        );

        const silent = connect(socketPath);
        const quiet = connect(socketPath);
        const talker = connect(socketPath);
        for (const c of [silent, quiet, talker]) {
          c.on('error', () => {});
          s.defer(() => void c.destroy(), 'close a test connection');
        }
        // Listening from the start: the holder may close them before the welcome below arrives.
        const closed = [silent, quiet].map((c) => new Promise((r) => c.once('close', r)));
        const opened = Date.now();
        quiet.write(MAGIC.subarray(0, 3)); // the start of a preamble, and no more
        const frames = frameReader(talker, talker);
        talker.write(encodeFrame(resumeHello(sessionId, secret)));
        assert.equal((await frames.next('welcome')).resumed, true);

        for (const c of closed) await within(c, 5000, 'the holder closing it');
        assert.ok(Date.now() - opened >= 250, 'not before the timeout');
        // Admitted: well past the timeout, it still answers.
        await new Promise((r) => setTimeout(r, 600));
        talker.write(encodeFrame({ type: 'ping', nonce: 2 }));
        assert.equal((await frames.next('pong')).nonce, 2);
      }));
  });
}
