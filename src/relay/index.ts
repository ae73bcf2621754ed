export type { StartupLimits } from './admission.js';
export type { RelayConnection } from './connection.js';
export { DEFAULT_PENALTIES, type PenaltyConfig, type PenaltyKind } from './penalties.js';
export { PolicyFile } from './policy-file.js';
export {
  type Relay,
  type RelayConfig,
  type RelayDeps,
  type RelayStats,
  startRelay,
} from './relay.js';
