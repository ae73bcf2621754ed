import { type BackoffPolicy, backoffDelay } from '../core/backoff.js';

/**
 * The agent's supervisor as a pure state machine: events in, commands out, no sockets or timers.
 * The driver (agent.ts) performs the commands and feeds back what happened.
 *
 * Contract:
 * - At most one connection attempt is under way at a time; at most one link is *active*
 *   (registered and serving). A second link exists only while the active one is leaving.
 * - A lost link is replaced at once on the next relay; further consecutive failures wait per the
 *   backoff schedule (full jitter, capped), rotating relays, forever.
 * - On drain the active link keeps serving while an attempt registers elsewhere; only once that
 *   succeeds is the draining link told to leave (make-before-break). With one relay, the agent
 *   stays until the relay closes, then reconnects.
 * - A permanent refusal (host key, key rejected, name not permitted) rules out that relay until
 *   the next success. When every relay is ruled out and nothing is serving, the agent exits 2.
 * - With placement (`--coordinator`), the agent asks where to go (a `place` command, answered by
 *   a `placed` event) at start, after losing its relay and on drain, instead of stepping to the
 *   next relay; it then tries the answer's relays in order, and asks again once they are all
 *   tried. The relay just lost or draining is asked to be avoided and, if named anyway, tried
 *   last. No answer (coordinator unreachable, bad answer) or an empty one: the `relays` given
 *   (`--relay`) are used instead. Asking takes the place of a connect in the schedule, so the
 *   timing is the same: the first retry after a success at once, then full jitter.
 */

export type LinkId = number;

export interface AttemptError {
  /** Retrying cannot fix it (configuration on one side or the other must change). */
  readonly permanent: boolean;
  /** Short machine-readable cause: `host-key`, `auth`, `not-permitted`, `ECONNREFUSED`… */
  readonly reason: string;
  /** One line for the operator. */
  readonly message: string;
}

export type AgentEvent =
  | { readonly type: 'start' }
  /** The attempt's link connected and every forward registered. */
  | { readonly type: 'registered'; readonly link: LinkId }
  | { readonly type: 'attempt-failed'; readonly link: LinkId; readonly error: AttemptError }
  /** A link that had connected is gone (TCP close/reset, keepalive timeout). */
  | { readonly type: 'lost'; readonly link: LinkId; readonly reason: string }
  | { readonly type: 'drain'; readonly link: LinkId }
  | { readonly type: 'timer'; readonly timer: number }
  /**
   * The answer to a `place` command: relays best first, or `error` (one line) when the
   * coordinator could not be reached or answered badly.
   */
  | {
      readonly type: 'placed';
      readonly request: number;
      readonly relays?: readonly string[];
      readonly error?: string;
    }
  | { readonly type: 'stop' };

export type AgentCommand =
  | { readonly type: 'connect'; readonly link: LinkId; readonly relay: string }
  /** Ask the coordinator where to go; answer with a `placed` event carrying `request`. */
  | { readonly type: 'place'; readonly request: number; readonly avoid?: string }
  /** Withdraw registrations, let open channels finish, then close. */
  | { readonly type: 'leave'; readonly link: LinkId }
  | { readonly type: 'close'; readonly link: LinkId }
  | { readonly type: 'wait'; readonly timer: number; readonly ms: number }
  | { readonly type: 'exit'; readonly code: number; readonly message: string };

export type Phase = 'starting' | 'connecting' | 'waiting' | 'connected' | 'moving' | 'stopped';

export interface AgentSnapshot {
  readonly phase: Phase;
  /** Relay serving the names now, and since when (ms since epoch). */
  readonly relay?: string;
  readonly since?: number;
  readonly draining: boolean;
  /** Relay of the attempt under way or waited for. */
  readonly trying?: string;
  /** Asking the coordinator, or waiting to ask it. */
  readonly placing?: true;
  /** Successful registrations after the first. */
  readonly reconnects: number;
  readonly consecutiveFailures: number;
  readonly lastError?: {
    readonly at: number;
    readonly relay: string;
    readonly reason: string;
    readonly message: string;
  };
}

export interface MachineOptions {
  /** Ask the coordinator for relays (`place` commands) instead of rotating over `relays` only. */
  readonly placement?: boolean;
}

interface Active {
  readonly link: LinkId;
  readonly relay: string;
  readonly since: number;
  draining: boolean;
}

/** What the schedule does next: connect to a relay, or ask the coordinator. */
type Next = { readonly relay: string } | { readonly place: true };

export class AgentMachine {
  readonly #fallback: readonly string[];
  readonly #placement: boolean;
  readonly #policy: BackoffPolicy;
  readonly #random: () => number;
  readonly #refusals = new Map<string, string>();
  /** The relays this round tries, in order: `--relay`'s, or the last placement answer's. */
  #order: string[];
  #index = 0;
  #failures = 0;
  /** The relay to avoid in the next placement: the one just lost or draining. */
  #avoid: string | undefined;
  #phase: Phase = 'starting';
  #active: Active | undefined;
  #attempt: { link: LinkId; relay: string } | undefined;
  #placing: number | undefined;
  #timer: { id: number; next: Next } | undefined;
  #nextId = 1;
  #registrations = 0;
  #lastError: AgentSnapshot['lastError'];

  /**
   * `relays` in the order this agent rotates through them (see relayOrder); empty only with
   * placement.
   */
  constructor(
    relays: readonly string[],
    policy: BackoffPolicy,
    random: () => number,
    options: MachineOptions = {},
  ) {
    this.#placement = options.placement === true;
    if (relays.length === 0 && !this.#placement) {
      throw new Error('AgentMachine needs at least one relay, or placement');
    }
    this.#fallback = relays;
    this.#order = [...relays];
    this.#policy = policy;
    this.#random = random;
  }

  snapshot(): AgentSnapshot {
    const waitingFor = this.#timer && 'relay' in this.#timer.next ? this.#timer.next.relay : '';
    const placing = this.#placing !== undefined || (this.#timer && 'place' in this.#timer.next);
    return {
      phase: this.#phase,
      ...(this.#active ? { relay: this.#active.relay, since: this.#active.since } : {}),
      draining: this.#active?.draining ?? false,
      ...(this.#attempt || waitingFor ? { trying: this.#attempt?.relay ?? waitingFor } : {}),
      ...(placing ? { placing: true as const } : {}),
      reconnects: Math.max(0, this.#registrations - 1),
      consecutiveFailures: this.#failures,
      ...(this.#lastError ? { lastError: this.#lastError } : {}),
    };
  }

  step(event: AgentEvent, now: number): AgentCommand[] {
    if (this.#phase === 'stopped') return [];
    switch (event.type) {
      case 'start':
        if (this.#phase !== 'starting') return [];
        return this.#go(this.#placement ? { place: true } : { relay: this.#order[0]! });
      case 'registered':
        return this.#registered(event.link, now);
      case 'attempt-failed':
        return this.#attemptFailed(event.link, event.error, now);
      case 'lost':
        return this.#lost(event.link, event.reason, now);
      case 'drain':
        return this.#drain(event.link);
      case 'timer': {
        if (this.#timer?.id !== event.timer) return [];
        const next = this.#timer.next;
        this.#timer = undefined;
        return this.#go(next);
      }
      case 'placed':
        return this.#placed(event, now);
      case 'stop':
        return this.#stop();
    }
  }

  #registered(link: LinkId, now: number): AgentCommand[] {
    if (this.#attempt?.link !== link) return [{ type: 'close', link }];
    const previous = this.#active;
    this.#active = { link, relay: this.#attempt.relay, since: now, draining: false };
    this.#attempt = undefined;
    this.#registrations += 1;
    this.#failures = 0;
    this.#avoid = undefined;
    this.#refusals.clear();
    this.#phase = 'connected';
    return previous ? [{ type: 'leave', link: previous.link }] : [];
  }

  #attemptFailed(link: LinkId, error: AttemptError, now: number): AgentCommand[] {
    if (this.#attempt?.link !== link) return [];
    const relay = this.#attempt.relay;
    this.#attempt = undefined;
    this.#lastError = { at: now, relay, reason: error.reason, message: error.message };
    if (error.permanent) {
      this.#refusals.set(relay, error.message);
      if (!this.#active && this.#allRefused()) {
        this.#phase = 'stopped';
        return [{ type: 'exit', code: 2, message: error.message }];
      }
    }
    return this.#retry(false);
  }

  #lost(link: LinkId, reason: string, now: number): AgentCommand[] {
    if (this.#attempt?.link === link) {
      return this.#attemptFailed(link, { permanent: false, reason, message: reason }, now);
    }
    if (this.#active?.link !== link) return [];
    const relay = this.#active.relay;
    this.#active = undefined;
    this.#avoid = relay;
    this.#lastError = {
      at: now,
      relay,
      reason,
      message: `lost the connection to ${relay}: ${reason}`,
    };
    if (this.#attempt || this.#timer || this.#placing !== undefined) {
      // A move was under way: it carries on and becomes the active link when it succeeds.
      this.#phase = this.#attempt || this.#placing !== undefined ? 'connecting' : 'waiting';
      return [];
    }
    return this.#retry(true);
  }

  #drain(link: LinkId): AgentCommand[] {
    const active = this.#active;
    if (active?.link !== link || active.draining) return [];
    active.draining = true;
    if (this.#attempt || this.#timer || this.#placing !== undefined) return [];
    if (!this.#placement && new Set(this.#order).size < 2) return [];
    this.#avoid = active.relay;
    this.#phase = 'moving';
    return this.#retry(true);
  }

  #placed(event: Extract<AgentEvent, { type: 'placed' }>, now: number): AgentCommand[] {
    if (this.#placing !== event.request) return [];
    this.#placing = undefined;
    const avoid = this.#avoid;
    const usable = (list: readonly string[]) =>
      list.filter((r) => r !== avoid && r !== this.#active?.relay && !this.#refusals.has(r));
    let order = usable(event.relays ?? []);
    if (order.length === 0) order = usable(this.#fallback);
    // The relay just lost comes last: it may be back, but the others are tried first.
    if (avoid !== undefined && avoid !== this.#active?.relay && !this.#refusals.has(avoid)) {
      order.push(avoid);
    }
    if (event.error !== undefined) {
      this.#lastError = {
        at: now,
        relay: 'coordinator',
        reason: 'placement',
        message: event.error,
      };
    }
    if (order.length === 0) {
      if (this.#active) {
        // Draining with nowhere else to go: stay until the relay closes, then start afresh.
        this.#phase = 'connected';
        this.#failures = 0;
        return [];
      }
      if (this.#fallback.length === 0 && this.#refusals.size > 0) {
        this.#phase = 'stopped';
        return [{ type: 'exit', code: 2, message: this.#lastRefusal() }];
      }
      return this.#retry(true);
    }
    this.#order = order;
    this.#index = 0;
    return this.#go({ relay: order[0]! });
  }

  #stop(): AgentCommand[] {
    const cmds: AgentCommand[] = [];
    if (this.#attempt) cmds.push({ type: 'close', link: this.#attempt.link });
    if (this.#active) cmds.push({ type: 'close', link: this.#active.link });
    this.#attempt = undefined;
    this.#active = undefined;
    this.#timer = undefined;
    this.#placing = undefined;
    this.#phase = 'stopped';
    return [...cmds, { type: 'exit', code: 0, message: 'stopped' }];
  }

  /**
   * Next attempt per the schedule, at once or after a wait: the next relay of this round, or,
   * with placement, a new question once the round is over or the relay was lost (`ask`).
   */
  #retry(ask: boolean): AgentCommand[] {
    this.#failures += 1;
    const delayMs = backoffDelay(this.#failures, this.#policy, this.#random);
    let next: Next;
    if (this.#placement && (ask || this.#index + 1 >= this.#order.length)) {
      next = { place: true };
    } else {
      this.#index = (this.#index + 1) % this.#order.length;
      next = { relay: this.#order[this.#index]! };
    }
    if (delayMs === 0) return this.#go(next);
    const id = this.#nextId++;
    this.#timer = { id, next };
    if (!this.#active) this.#phase = 'waiting';
    return [{ type: 'wait', timer: id, ms: delayMs }];
  }

  #go(next: Next): AgentCommand[] {
    if (!this.#active) this.#phase = 'connecting';
    else if (this.#active.draining) this.#phase = 'moving';
    if ('place' in next) {
      const request = this.#nextId++;
      this.#placing = request;
      return [{ type: 'place', request, ...(this.#avoid ? { avoid: this.#avoid } : {}) }];
    }
    const link = this.#nextId++;
    this.#attempt = { link, relay: next.relay };
    return [{ type: 'connect', link, relay: next.relay }];
  }

  /** Every relay this agent could try has refused permanently since the last success. */
  #allRefused(): boolean {
    const all = new Set([...this.#order, ...this.#fallback]);
    for (const r of all) if (!this.#refusals.has(r)) return false;
    return true;
  }

  #lastRefusal(): string {
    return [...this.#refusals.values()].pop() ?? 'every relay refused this device';
  }
}
