/**
 * The pooled random source for ssh2's packet padding, and the switch that makes ssh2 use it.
 *
 * ssh2 fills the 4–19 padding bytes of every packet with its own `crypto.randomFillSync` call,
 * which costs more than the AES-GCM encryption of a 32 KiB packet (`npm run bench --
 * experiments/relay-profile` shows where the forwarding relay's CPU goes). ssh2 takes its reference to
 * randomFillSync when it loads, so for exactly that moment `randomFillSync` is replaced by
 * `pooledRandomFill`, then restored: nothing else in the process is affected.
 *
 * Contract: loading this module installs `pooledRandomFill` as `randomFillSync` on the shared
 * `node:crypto` module object (the one ssh2's `require('crypto')` returns); `restoreRandomFill()`
 * puts the real function back. Only ssh2.ts imports it, immediately before `ssh2`.
 *
 * It is CommonJS on purpose: Node evaluates an ES module's imports in order, but a bundler may
 * not keep an ES module's body in order with CommonJS code (esbuild runs every `require` an ES
 * module's imports turn into before the bodies of the ES modules it imports). As two CommonJS
 * imports, this module and ssh2 load in source order under both.
 *
 * The pool is filled by the real `randomFillSync` (the same CSPRNG) and every byte is handed out
 * once, so ssh2 gets bytes of the same quality, 64 KiB per system call instead of a few.
 */
import nodeCrypto = require('node:crypto');

type RandomFill = <T extends NodeJS.ArrayBufferView>(buf: T, offset?: number, size?: number) => T;

/** The CommonJS module object itself, whose property ssh2 reads when it loads. */
const cryptoModule = nodeCrypto as unknown as { randomFillSync: RandomFill };
const realRandomFill = cryptoModule.randomFillSync;

const POOL_BYTES = 64 * 1024;
/** Requests larger than this go straight to the real function. */
const MAX_POOLED = 256;
let pool = Buffer.alloc(0);
let poolPos = 0;
let served = 0;

function pooledRandomFill<T extends NodeJS.ArrayBufferView>(buf: T, offset = 0, size?: number): T {
  const len = size ?? buf.byteLength - offset;
  if (!Buffer.isBuffer(buf) || len > MAX_POOLED || offset < 0 || offset + len > buf.length) {
    return realRandomFill(buf, offset, size);
  }
  if (poolPos + len > pool.length) {
    pool = realRandomFill(Buffer.allocUnsafe(POOL_BYTES));
    poolPos = 0;
  }
  pool.copy(buf, offset, poolPos, poolPos + len);
  poolPos += len;
  served += len;
  return buf;
}

/** How many bytes the pool has handed out since the process started (for tests). */
function pooledBytesServed(): number {
  return served;
}

/** Puts the real `crypto.randomFillSync` back. Idempotent. */
function restoreRandomFill(): void {
  cryptoModule.randomFillSync = realRandomFill;
}

cryptoModule.randomFillSync = pooledRandomFill as RandomFill;

export = { pooledRandomFill, pooledBytesServed, restoreRandomFill };
