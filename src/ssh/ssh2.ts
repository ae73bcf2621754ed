import { createRequire } from 'node:module';
import type ssh2Types from 'ssh2';

/**
 * ssh2, loaded with a pooled random source for its packet padding. The only place burrow
 * requires ssh2 at run time; the rest of src/ssh imports it from here.
 *
 * ssh2 fills the 4–19 padding bytes of every packet with its own `crypto.randomFillSync` call,
 * which costs more than the AES-GCM encryption of a 32 KiB packet: 14% of the relay's CPU when
 * forwarding (measured with --cpu-prof, 1 GiB through `ssh -J`). ssh2 takes its reference to
 * randomFillSync when it loads, so for exactly that moment `randomFillSync` is replaced by
 * `pooledRandomFill`, then restored: nothing else in the process is affected.
 *
 * The pool is filled by the real `randomFillSync` (the same CSPRNG) and every byte is handed out
 * once, so ssh2 gets bytes of the same quality, 64 KiB per system call instead of a few.
 */
const require = createRequire(import.meta.url);

type RandomFill = <T extends NodeJS.ArrayBufferView>(buf: T, offset?: number, size?: number) => T;

const nodeCrypto = require('node:crypto') as { randomFillSync: RandomFill };
const realRandomFill = nodeCrypto.randomFillSync;

const POOL_BYTES = 64 * 1024;
/** Requests larger than this go straight to the real function. */
const MAX_POOLED = 256;
let pool = Buffer.alloc(0);
let poolPos = 0;

export function pooledRandomFill<T extends NodeJS.ArrayBufferView>(
  buf: T,
  offset = 0,
  size?: number,
): T {
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
  return buf;
}

/** Must run before anything else loads ssh2: a module already in the cache would be unpooled. */
function loadSsh2(): typeof ssh2Types {
  nodeCrypto.randomFillSync = pooledRandomFill as RandomFill;
  try {
    return require('ssh2') as typeof ssh2Types;
  } finally {
    nodeCrypto.randomFillSync = realRandomFill;
  }
}

const ssh2: typeof ssh2Types = loadSsh2();
export default ssh2;
