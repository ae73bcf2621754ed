import { type BackoffPolicy, ReconnectSchedule } from '../core/backoff.js';

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
  | { readonly type: 'stop' };

export type AgentCommand =
  | { readonly type: 'connect'; readonly link: LinkId; readonly relay: string }
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

interface Active {
  readonly link: LinkId;
  readonly relay: string;
  readonly since: number;
  draining: boolean;
}

export class AgentMachine {
  readonly #schedule: ReconnectSchedule;
  readonly #relayCount: number;
  readonly #refusals = new Map<string, string>();
  #phase: Phase = 'starting';
  #active: Active | undefined;
  #attempt: { link: LinkId; relay: string } | undefined;
  #timer: { id: number; relay: string } | undefined;
  #nextId = 1;
  #registrations = 0;
  #lastError: AgentSnapshot['lastError'];

  /** `relays` in the order this agent rotates through them (see relayOrder). */
  constructor(relays: readonly string[], policy: BackoffPolicy, random: () => number) {
    this.#schedule = new ReconnectSchedule(relays, policy, random);
    this.#relayCount = new Set(relays).size;
  }

  snapshot(): AgentSnapshot {
    return {
      phase: this.#phase,
      ...(this.#active ? { relay: this.#active.relay, since: this.#active.since } : {}),
      draining: this.#active?.draining ?? false,
      ...(this.#attempt || this.#timer
        ? { trying: (this.#attempt?.relay ?? this.#timer?.relay) as string }
        : {}),
      reconnects: Math.max(0, this.#registrations - 1),
      consecutiveFailures: this.#schedule.consecutiveFailures,
      ...(this.#lastError ? { lastError: this.#lastError } : {}),
    };
  }

  step(event: AgentEvent, now: number): AgentCommand[] {
    if (this.#phase === 'stopped') return [];
    switch (event.type) {
      case 'start':
        return this.#phase === 'starting' ? this.#connect(this.#schedule.current) : [];
      case 'registered':
        return this.#registered(event.link, now);
      case 'attempt-failed':
        return this.#attemptFailed(event.link, event.error, now);
      case 'lost':
        return this.#lost(event.link, event.reason, now);
      case 'drain':
        return this.#drain(event.link);
      case 'timer':
        if (this.#timer?.id !== event.timer) return [];
        return this.#connect(this.#takeTimer());
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
    this.#schedule.succeeded();
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
      if (!this.#active && this.#refusals.size >= this.#relayCount) {
        this.#phase = 'stopped';
        return [{ type: 'exit', code: 2, message: error.message }];
      }
    }
    return this.#retry();
  }

  #lost(link: LinkId, reason: string, now: number): AgentCommand[] {
    if (this.#attempt?.link === link) {
      return this.#attemptFailed(link, { permanent: false, reason, message: reason }, now);
    }
    if (this.#active?.link !== link) return [];
    const relay = this.#active.relay;
    this.#active = undefined;
    this.#lastError = {
      at: now,
      relay,
      reason,
      message: `lost the connection to ${relay}: ${reason}`,
    };
    if (this.#attempt || this.#timer) {
      // A move was under way: it carries on and becomes the active link when it succeeds.
      this.#phase = this.#attempt ? 'connecting' : 'waiting';
      return [];
    }
    return this.#retry();
  }

  #drain(link: LinkId): AgentCommand[] {
    const active = this.#active;
    if (active?.link !== link || active.draining) return [];
    active.draining = true;
    if (this.#relayCount < 2 || this.#attempt || this.#timer) return [];
    this.#phase = 'moving';
    return this.#retry();
  }

  #stop(): AgentCommand[] {
    const cmds: AgentCommand[] = [];
    if (this.#attempt) cmds.push({ type: 'close', link: this.#attempt.link });
    if (this.#active) cmds.push({ type: 'close', link: this.#active.link });
    this.#attempt = undefined;
    this.#active = undefined;
    this.#timer = undefined;
    this.#phase = 'stopped';
    return [...cmds, { type: 'exit', code: 0, message: 'stopped' }];
  }

  /** Next attempt per the schedule: at once, or after a wait. */
  #retry(): AgentCommand[] {
    const next = this.#schedule.failed();
    if (next.delayMs === 0) return this.#connect(next.relay);
    const id = this.#nextId++;
    this.#timer = { id, relay: next.relay };
    if (!this.#active) this.#phase = 'waiting';
    return [{ type: 'wait', timer: id, ms: next.delayMs }];
  }

  #connect(relay: string): AgentCommand[] {
    const link = this.#nextId++;
    this.#attempt = { link, relay };
    if (!this.#active) this.#phase = 'connecting';
    else if (this.#active.draining) this.#phase = 'moving';
    return [{ type: 'connect', link, relay }];
  }

  #takeTimer(): string {
    const relay = this.#timer!.relay;
    this.#timer = undefined;
    return relay;
  }
}
