/**
 * Reconnect schedule for agents: which relay to try next and how long to wait first. Pure: the
 * random source is passed in, so tests are exact and production uses Math.random.
 *
 * Contract:
 * - After a success, the first failure retries at once (on the next relay): a relay that just
 *   died is replaced within a round trip.
 * - Each further consecutive failure waits a uniformly random time in [0, min(cap, base·2^(k-1)))
 *   ("full jitter"), so agents that lost the same relay at the same moment spread out instead of
 *   retrying in lock-step, and none waits longer than the cap.
 * - Relays are tried in rotation; there is no give-up: a schedule always has a next attempt.
 */
export interface BackoffPolicy {
  /** Upper bound of the window after the second consecutive failure. */
  readonly baseMs: number;
  /** No wait is ever longer than this. */
  readonly capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 500, capMs: 30_000 };

/**
 * The wait before the next attempt after `failures` consecutive failures (1 = the first).
 * `random` returns a number in [0, 1).
 */
export function backoffDelay(
  failures: number,
  policy: BackoffPolicy,
  random: () => number,
): number {
  if (failures <= 1) return 0;
  // 2^(k-2) grows past any cap long before it overflows; clamp the exponent anyway.
  const window = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(failures - 2, 30));
  return Math.floor(random() * window);
}

export interface Attempt {
  readonly relay: string;
  readonly delayMs: number;
}

export class ReconnectSchedule {
  readonly #relays: readonly string[];
  readonly #policy: BackoffPolicy;
  readonly #random: () => number;
  #index: number;
  #failures = 0;

  /** `start` picks the first relay (agents may start at a random one to spread load). */
  constructor(
    relays: readonly string[],
    policy: BackoffPolicy = DEFAULT_BACKOFF,
    random: () => number = Math.random,
    start = 0,
  ) {
    if (relays.length === 0) throw new Error('ReconnectSchedule needs at least one relay');
    this.#relays = relays;
    this.#policy = policy;
    this.#random = random;
    this.#index = ((start % relays.length) + relays.length) % relays.length;
  }

  /** The relay to use now (initially, or after a success). */
  get current(): string {
    return this.#relays[this.#index]!;
  }

  get consecutiveFailures(): number {
    return this.#failures;
  }

  /** Records a failed or lost connection; returns where and after how long to try next. */
  failed(): Attempt {
    this.#failures += 1;
    this.#index = (this.#index + 1) % this.#relays.length;
    return {
      relay: this.current,
      delayMs: backoffDelay(this.#failures, this.#policy, this.#random),
    };
  }

  /** Records a successful registration: the next failure retries at once again. */
  succeeded(): void {
    this.#failures = 0;
  }
}

/**
 * The relays in a random order of this agent's own (Fisher–Yates with `random`). Agents rotate
 * through their own order, so the agents of a relay that dies spread over the others instead of
 * all moving to the next one in the configured list.
 */
export function relayOrder(relays: readonly string[], random: () => number): string[] {
  const order = [...relays];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}
