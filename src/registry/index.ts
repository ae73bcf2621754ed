export { MemoryRegistry } from './memory.js';
export type { Claim, ClaimResult, NameRecord, Registry, RelayRecord } from './registry.js';
