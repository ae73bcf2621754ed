/**
 * How the coordinator's routes turn failures into answers, shared by the Hono app (api.ts) and
 * the placement fast path (placement-route.ts) so that the two cannot drift apart.
 */
import type { Logger } from 'pino';
import { ApiError } from './query.js';

/** Runs a registry call; its failure becomes a 503 (the cause is logged, not sent). */
export async function fromRegistry<T>(
  log: Pick<Logger, 'warn'>,
  what: string,
  call: () => Promise<T>,
): Promise<T> {
  try {
    return await call();
  } catch (err) {
    log.warn({ err: (err as Error).message, what }, 'registry call failed');
    throw new ApiError('REGISTRY_UNAVAILABLE', 'the registry is unreachable');
  }
}

/** An ApiError as it is; anything else logged and answered as a 500 that says nothing more. */
export function asApiError(err: unknown, log: Pick<Logger, 'error'>): ApiError {
  if (err instanceof ApiError) return err;
  log.error({ err: (err as Error).message }, 'API handler failed');
  return new ApiError('INTERNAL', 'internal error (see the log)');
}
