export { MemoryRegistry } from './memory.js';
export type {
  Claim,
  ClaimResult,
  Conflict,
  HeldRoute,
  NamePage,
  NameQuery,
  NameRecord,
  Registry,
  RelayRecord,
  Takeover,
} from './registry.js';
export { maskRegistryUrl, parseRegistryUrl, type RegistryTarget } from './url.js';

import { MemoryRegistry } from './memory.js';
import type { LinkOptions } from './redis-link.js';
import type { Registry } from './registry.js';
import { parseRegistryUrl } from './url.js';

/**
 * The registry a `--registry` URL names, connected. Throws CONFIG_INVALID for a bad URL and
 * REFUSED `--registry <url>: cannot connect: <reason>` when Redis cannot be reached; both
 * messages have the password masked. The Redis client is loaded only when a Redis URL is given.
 */
export async function createRegistry(url: string, opts: LinkOptions = {}): Promise<Registry> {
  const target = parseRegistryUrl(url);
  if (target.kind === 'memory') return new MemoryRegistry();
  const { RedisRegistry } = await import('./redis.js');
  return RedisRegistry.connect(target, opts);
}
