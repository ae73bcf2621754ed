/**
 * Feeds the coordinator's `EventRing` (events.ts): polls the registry's relay list every
 * `intervalMs` and diffs successive polls, and turns every takeover the registry publishes into a
 * `moved` event. Lifecycle: `startEventFeed` returns at once (the first poll and the subscription
 * run in the background, so an unreachable registry never stops the coordinator from starting);
 * a failed poll keeps the previous view and is logged once per outage; a failed subscription is
 * retried at the next poll; `close()` stops the timer and the subscription and is idempotent.
 */
import type { Logger } from 'pino';
import type { Registry } from '../registry/index.js';
import { diffRelays, EventRing, movedEvent, type Seen } from './events.js';

export interface EventFeedConfig {
  readonly ttlMs: number;
  readonly intervalMs: number;
  /** Events kept. */
  readonly capacity?: number;
}

export interface EventFeedDeps {
  readonly registry: Pick<Registry, 'relays' | 'onTakeover'>;
  readonly now: () => number;
  readonly log: Logger;
}

export interface EventFeed {
  readonly ring: EventRing;
  close(): void;
}

export function startEventFeed(config: EventFeedConfig, deps: EventFeedDeps): EventFeed {
  const { registry, now, log } = deps;
  const ring = new EventRing(config.capacity);
  let seen: Seen | undefined;
  let failing = false;
  let closed = false;
  let unsubscribe: (() => void) | undefined;
  let subscribing = false;
  let timer: NodeJS.Timeout | undefined;

  const subscribe = () => {
    if (unsubscribe || subscribing || closed) return;
    subscribing = true;
    registry
      .onTakeover((t) => ring.push(movedEvent(t, now())))
      .then(
        (stop) => {
          if (closed) stop();
          else unsubscribe = stop;
        },
        (err: Error) => log.debug({ err: err.message }, 'takeover subscription failed; retrying'),
      )
      .finally(() => {
        subscribing = false;
      });
  };

  const poll = async () => {
    subscribe();
    try {
      const relays = await registry.relays();
      const diff = diffRelays(seen, relays, now(), config.ttlMs);
      seen = diff.seen;
      ring.push(...diff.events);
      if (failing) log.info('relay poll for the status page works again');
      failing = false;
    } catch (err) {
      if (!failing)
        log.warn({ err: (err as Error).message }, 'relay poll for the status page failed');
      failing = true;
    }
    if (!closed) {
      timer = setTimeout(() => void poll(), config.intervalMs);
      timer.unref();
    }
  };
  void poll();

  return {
    ring,
    close() {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      unsubscribe?.();
      unsubscribe = undefined;
    },
  };
}
