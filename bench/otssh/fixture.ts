/**
 * What every otssh measurement needs: a private temp dir, a client key and an authorized_keys
 * file holding it, and the marker pipe with its announce hook. Registered with the scope.
 */
import { join } from 'node:path';
import {
  generateKey,
  type KeyPair,
  type Scope,
  tmpDir,
  writeAuthorizedKeys,
} from '../../test/helpers/index.js';
import { Marker } from './marker.js';

export interface Fixture {
  dir: string;
  /** The client's key: the one ed25519 key in `authorizedKeys`. */
  key: KeyPair;
  authorizedKeys: string;
  marker: Marker;
}

export async function prepare(scope: Scope): Promise<Fixture> {
  const dir = await tmpDir(scope, 'burrow-bench-otssh-');
  const key = await generateKey(dir, 'client');
  const authorizedKeys = join(dir, 'authorized_keys');
  await writeAuthorizedKeys(authorizedKeys, [key]);
  const marker = await Marker.create(dir);
  scope.defer(() => marker.close(), 'close the marker pipe');
  return { dir, key, authorizedKeys, marker };
}
