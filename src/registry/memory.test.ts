import { MemoryRegistry } from './memory.js';
import { registryContract } from './registry.contract.js';

registryContract('memory', { make: async (now) => new MemoryRegistry(now), clockControl: true });
