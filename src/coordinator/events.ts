/**
 * The fleet's recent events, for the status page: relays that joined, drained, were lost, came
 * back or went away, and names that moved between relays. Pure: `diffRelays` compares two
 * successive polls of the registry's relay list; `EventRing` keeps the last few events.
 *
 * Contract of `diffRelays` (per relay id, previous poll → this poll):
 * - the first poll of a coordinator yields no events (it only learns the fleet);
 * - absent → present: `joined`;
 * - up → draining: `draining`; anything → lost: `lost`; lost or draining → up: `back`;
 *   lost → draining: `back` as well (heartbeats resumed);
 * - present → absent: `gone` (its record expired or was removed); when it was up at the previous
 *   poll it is reported `lost`, since it died between two polls without being seen late.
 */
import type { RelayRecord, Takeover } from '../registry/index.js';
import { type RelayState, relayState } from './placement.js';

export type RelayEventKind = 'joined' | 'draining' | 'lost' | 'back' | 'gone';

export type FleetEvent =
  | {
      readonly at: number;
      readonly kind: RelayEventKind;
      readonly relayId: string;
      readonly address: string;
    }
  | {
      readonly at: number;
      readonly kind: 'moved';
      readonly name: string;
      readonly from: string;
      readonly to: string;
    };

export interface SeenRelay {
  readonly state: RelayState;
  readonly address: string;
}

/** What the previous poll saw, by relay id. */
export type Seen = ReadonlyMap<string, SeenRelay>;

export interface RelayDiff {
  readonly seen: Map<string, SeenRelay>;
  readonly events: FleetEvent[];
}

function transition(before: RelayState, after: RelayState): RelayEventKind | undefined {
  if (before === after) return undefined;
  if (after === 'lost') return 'lost';
  if (after === 'draining' && before === 'up') return 'draining';
  return 'back';
}

export function diffRelays(
  previous: Seen | undefined,
  relays: readonly RelayRecord[],
  now: number,
  ttlMs: number,
): RelayDiff {
  const seen = new Map<string, SeenRelay>();
  const events: FleetEvent[] = [];
  for (const r of relays) {
    const state = relayState(r, now, ttlMs);
    seen.set(r.relayId, { state, address: r.address });
    if (previous === undefined) continue;
    const before = previous.get(r.relayId);
    const kind = before === undefined ? 'joined' : transition(before.state, state);
    if (kind) events.push({ at: now, kind, relayId: r.relayId, address: r.address });
  }
  for (const [relayId, before] of previous ?? []) {
    if (seen.has(relayId)) continue;
    const kind = before.state === 'up' ? 'lost' : 'gone';
    events.push({ at: now, kind, relayId, address: before.address });
  }
  return { seen, events };
}

/** Longest name or relay id an event keeps: takeover messages come from anyone who can publish. */
const MAX_FIELD = 253;

/** The `moved` event for a takeover message. */
export function movedEvent(t: Takeover, now: number): FleetEvent {
  const cut = (s: unknown) => String(s).slice(0, MAX_FIELD);
  return { at: now, kind: 'moved', name: cut(t.name), from: cut(t.from), to: cut(t.to) };
}

/** The last `capacity` events, oldest dropped first. */
export class EventRing {
  readonly #events: FleetEvent[] = [];
  readonly #capacity: number;

  constructor(capacity = 200) {
    this.#capacity = capacity;
  }

  push(...events: FleetEvent[]): void {
    this.#events.push(...events);
    if (this.#events.length > this.#capacity) {
      this.#events.splice(0, this.#events.length - this.#capacity);
    }
  }

  /** At most `limit` events, newest first. */
  recent(limit: number): FleetEvent[] {
    return this.#events.slice(-limit).reverse();
  }
}
