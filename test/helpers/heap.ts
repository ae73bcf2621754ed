/**
 * For leak tests: the heap after forced garbage collections, and the usual in-process relay with
 * one device key (may register dev1:22) and one operator key (may reach it).
 */
import { readFile } from 'node:fs/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { generateKey } from './keys.js';
import { startTestRelay, type TestRelay } from './relay.js';
import type { Scope } from './scope.js';
import { tmpDir } from './tmp.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Bytes of heap in use after three full collections. */
export function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

export async function startKeyedRelay(
  scope: Scope,
): Promise<{ relay: TestRelay; devKey: string; opKey: string }> {
  const dir = await tmpDir(scope);
  const dev = await generateKey(dir, 'device');
  const op = await generateKey(dir, 'operator');
  const relay = await startTestRelay(scope, {
    policy: [`permitlisten="dev1:22" ${dev.publicKey}`, `permitopen="dev1:22" ${op.publicKey}`],
  });
  return {
    relay,
    devKey: await readFile(dev.path, 'utf8'),
    opKey: await readFile(op.path, 'utf8'),
  };
}
