export { type AgentMetrics, createAgentMetrics } from './agent.js';
export {
  type CoordinatorMetrics,
  createCoordinatorMetrics,
  PLACEMENT_RESULTS,
  type PlacementResult,
} from './coordinator.js';
export { type MetricsServer, startMetricsServer } from './http.js';
export { createMetricsRegistry, type Registry } from './process.js';
export { createRelayMetrics, type RelayMetrics } from './relay.js';
