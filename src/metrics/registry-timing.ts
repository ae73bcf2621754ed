import { performance } from 'node:perf_hooks';
import type { Counter, Histogram } from 'prom-client';
import type { Registry } from '../registry/registry.js';

/** The registry operations a relay's metrics time; every other method passes through untimed. */
export const TIMED_OPS = ['claim', 'release', 'lookup', 'heartbeat', 'relays', 'names'] as const;
export type TimedOp = (typeof TIMED_OPS)[number];

export interface RegistryTimingSinks {
  readonly seconds: Histogram<'op'>;
  readonly errors: Counter<'op'>;
  /** Called after each heartbeat the registry accepted. */
  readonly heartbeatOk: () => void;
}

/**
 * `inner` with each operation of TIMED_OPS timed into `seconds{op}` and its failures (a rejected
 * promise or a throw) counted in `errors{op}`. Behaviour is otherwise `inner`'s: same results,
 * same errors, same `this`.
 */
export function timeRegistry(inner: Registry, sinks: RegistryTimingSinks): Registry {
  const timed = new Set<string>(TIMED_OPS);
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof prop !== 'string' || !timed.has(prop) || typeof value !== 'function') {
        return typeof value === 'function' ? value.bind(target) : value;
      }
      const op = prop as TimedOp;
      return async (...args: unknown[]) => {
        const started = performance.now();
        try {
          const result = await value.apply(target, args);
          if (op === 'heartbeat') sinks.heartbeatOk();
          return result;
        } catch (err) {
          sinks.errors.inc({ op });
          throw err;
        } finally {
          sinks.seconds.observe({ op }, (performance.now() - started) / 1000);
        }
      };
    },
  });
}
