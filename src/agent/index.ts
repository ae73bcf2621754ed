export {
  type Agent,
  type AgentConfig,
  type AgentDeps,
  type RelayAddress,
  startAgent,
} from './agent.js';
export { type HostKeyDecision, type HostKeyTrust, hostKeyTrust } from './host-trust.js';
export type { AgentSnapshot, Phase } from './machine.js';
export {
  askPlacement,
  MAX_PLACEMENT_BYTES,
  type PlacementAnswer,
  type PlacementClient,
  parsePlacement,
  parseRelayAddress,
  placementTimeoutMs,
} from './placement.js';
export type { Forward } from './serve.js';
