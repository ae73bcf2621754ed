/**
 * Placement: from the registry's relay records to the relays a device should try, best first.
 * Pure: the clock comes in as `now`, and the only state is the reservation counter, which the
 * caller owns.
 *
 * Contract of `rankRelays`:
 * - Only relays that are `up` (heartbeat fresh, not draining) are candidates, and only while
 *   under capacity (`connections < capacity`; capacity 0 means undeclared, never full).
 * - A relay whose address is `avoid` is left out: the device asking has just lost it (or is
 *   leaving it), and its record may still look alive for up to two heartbeats.
 * - The relay that already holds the name comes first when it is up, whatever its load: moving a
 *   device that is where it should be gains nothing.
 * - The others follow least loaded first: `(connections + reserved) / capacity` when every
 *   candidate declares a capacity, otherwise `names + reserved` for all of them (one measure for
 *   all, so the order is total). Ties go to the lower relay id, so the answer is deterministic.
 */
import type { RelayRecord } from '../registry/index.js';

/** How long a placement counts against the relay it sent a device to (mas4h's 2.5 s). */
export const RESERVATION_MS = 2500;
/** Reservations kept per relay at most: a flood of requests cannot grow memory without bound. */
const MAX_RESERVATIONS_PER_RELAY = 10_000;

export type RelayState = 'up' | 'draining' | 'lost';

export interface Candidate {
  readonly id: string;
  readonly address: string;
}

/**
 * How long ago `relay` last sent a heartbeat, given the TTL every relay gives its record: a
 * record is written with `ttlMs` to live, so what is left of it tells when it was written.
 */
export function heartbeatAgeMs(relay: RelayRecord, now: number, ttlMs: number): number {
  return Math.max(0, ttlMs - Math.max(0, relay.expiresAt - now));
}

/**
 * `draining` when the relay says so; `lost` once its heartbeat is older than two thirds of the
 * TTL (two heartbeats missed at the relay's defaults, 5 s beats and a 15 s TTL); `up` otherwise.
 */
export function relayState(relay: RelayRecord, now: number, ttlMs: number): RelayState {
  if (relay.expiresAt <= now || heartbeatAgeMs(relay, now, ttlMs) > (ttlMs * 2) / 3) return 'lost';
  return relay.draining ? 'draining' : 'up';
}

/**
 * Placements handed out in the last `RESERVATION_MS`, per relay. The caller owns the instance;
 * every method takes the time, so tests drive it with a fake clock.
 */
export class Reservations {
  readonly #until = new Map<string, number[]>();
  readonly #ms: number;

  constructor(ms: number = RESERVATION_MS) {
    this.#ms = ms;
  }

  /** Placements still counting against `relayId` at `now`. */
  count(relayId: string, now: number): number {
    return this.#live(relayId, now).length;
  }

  /** Counts one placement against `relayId` for the next `ms`. */
  add(relayId: string, now: number): void {
    const live = this.#live(relayId, now);
    if (live.length < MAX_RESERVATIONS_PER_RELAY) live.push(now + this.#ms);
    this.#until.set(relayId, live);
  }

  #live(relayId: string, now: number): number[] {
    const live = (this.#until.get(relayId) ?? []).filter((t) => t > now);
    if (live.length === 0) this.#until.delete(relayId);
    else this.#until.set(relayId, live);
    return live;
  }
}

export interface RankInput {
  readonly relays: readonly RelayRecord[];
  /** Relay id the registry says holds the name, if any. */
  readonly heldBy?: string | undefined;
  /** Address (`host:port`) of a relay the device asks not to be sent to. */
  readonly avoid?: string | undefined;
  readonly now: number;
  /** The TTL relays give their records (`--registry-ttl`). */
  readonly ttlMs: number;
  /** Reservations per relay id at `now`. */
  readonly reserved: (relayId: string) => number;
}

/** Candidates best first (see the contract at the top); empty when no relay can take a device. */
export function rankRelays(input: RankInput): Candidate[] {
  const { now, ttlMs, heldBy, reserved } = input;
  const up = input.relays.filter(
    (r) => relayState(r, now, ttlMs) === 'up' && r.address !== input.avoid,
  );
  const holder = up.find((r) => r.relayId === heldBy);
  const open = up.filter((r) => r !== holder && (r.capacity <= 0 || r.connections < r.capacity));
  const byRatio = open.every((r) => r.capacity > 0);
  const load = (r: RelayRecord): number =>
    byRatio ? (r.connections + reserved(r.relayId)) / r.capacity : r.names + reserved(r.relayId);
  const ranked = open
    .map((r) => ({ r, load: load(r) }))
    .sort((a, b) => a.load - b.load || (a.r.relayId < b.r.relayId ? -1 : 1))
    .map(({ r }) => r);
  return (holder ? [holder, ...ranked] : ranked).map((r) => ({
    id: r.relayId,
    address: r.address,
  }));
}

/**
 * Ranks the relays for one request and reserves the first candidate, unless it already holds
 * the name (its device is counted already).
 */
export function place(reservations: Reservations, input: Omit<RankInput, 'reserved'>): Candidate[] {
  const ranked = rankRelays({ ...input, reserved: (id) => reservations.count(id, input.now) });
  const first = ranked[0];
  if (first && first.id !== input.heldBy) reservations.add(first.id, input.now);
  return ranked;
}
