export type { RelayConnection } from './connection.js';
export {
  type Relay,
  type RelayConfig,
  type RelayDeps,
  type RelayStats,
  startRelay,
} from './relay.js';
