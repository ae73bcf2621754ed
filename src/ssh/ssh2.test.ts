import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { generateEd25519 } from './openssh-format.js';
import ssh2, { pooledBytesServed, pooledRandomFill } from './ssh2.js';

/** Runs one ssh2 client ↔ server handshake over loopback; resolves when the client is ready. */
async function handshake(): Promise<void> {
  const server = new ssh2.Server({ hostKeys: [generateEd25519('test').privateKey] }, (conn) => {
    conn.on('authentication', (ctx) => ctx.accept());
    conn.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const client = new ssh2.Client();
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('ready', resolve).once('error', reject);
      client.connect({ host: '127.0.0.1', port, username: 'test', readyTimeout: 10_000 });
    });
  } finally {
    client.end();
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('ssh2 loader', () => {
  it('restores crypto.randomFillSync for everyone else', () => {
    const cjs = createRequire(import.meta.url)('node:crypto') as { randomFillSync: unknown };
    assert.equal(cjs.randomFillSync, randomFillSync);
    assert.notEqual(cjs.randomFillSync, pooledRandomFill);
    assert.equal(typeof ssh2.Server, 'function');
  });

  it('gives ssh2 the pooled function: its padding and KEXINIT cookies come from the pool', async () => {
    const before = pooledBytesServed();
    await handshake();
    // Nothing else in this test draws from the pool, so only ssh2 can have drawn these bytes:
    // at least both sides' KEXINIT cookies (16 bytes each), then every packet's padding.
    const drawn = pooledBytesServed() - before;
    assert.ok(drawn >= 2 * 16, `ssh2 drew only ${drawn} bytes from the pool`);
  });
});

describe('pooledRandomFill', () => {
  it('fills exactly the requested range and returns the buffer', () => {
    const buf = Buffer.alloc(64, 0xaa);
    assert.equal(pooledRandomFill(buf, 10, 16), buf);
    assert.ok(buf.subarray(0, 10).every((b) => b === 0xaa));
    assert.ok(buf.subarray(26).every((b) => b === 0xaa));
    assert.ok(!buf.subarray(10, 26).every((b) => b === 0xaa), 'range left unfilled');
  });

  it('never hands out the same bytes twice, across pool refills', () => {
    const seen = new Set<string>();
    // 70 000 draws of 16 bytes cross the 64 KiB pool boundary many times.
    for (let i = 0; i < 70_000; i++) {
      const hex = pooledRandomFill(Buffer.alloc(16)).toString('hex');
      assert.ok(!seen.has(hex), `repeated bytes at draw ${i}`);
      seen.add(hex);
    }
  });

  it('passes large or unusual requests to the real function', () => {
    const big = pooledRandomFill(Buffer.alloc(4096));
    assert.ok(big.some((b) => b !== 0));
    const typed = pooledRandomFill(new Uint32Array(8));
    assert.ok(typed.some((v) => v !== 0));
    assert.throws(() => pooledRandomFill(Buffer.alloc(8), 4, 16), RangeError);
  });
});
