export { type ApiConfig, type ApiDeps, createApi } from './api.js';
export {
  type Coordinator,
  type CoordinatorConfig,
  type CoordinatorDeps,
  startCoordinator,
} from './coordinator.js';
export { type Candidate, RESERVATION_MS, type RelayState, Reservations } from './placement.js';
