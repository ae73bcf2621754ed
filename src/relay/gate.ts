import type { Socket } from 'node:net';
import type { AuditSink } from '../audit/audit.js';
import { Admission, normalizeAddress, type StartupLimits } from './admission.js';
import type { PendingAuth } from './connection.js';
import { Penalties, type PenaltyConfig } from './penalties.js';
import { RefusalAudit } from './refusal-audit.js';
import { sourceOf } from './sources.js';

export interface GateConfig {
  readonly startups: StartupLimits;
  /** Refusing sources whose pre-auth connections misbehave; undefined turns it off. */
  readonly penalties?: PenaltyConfig;
  readonly loginGraceMs: number;
  /** At most one refusal line per source, and one summary, per this interval. */
  readonly refusalAuditIntervalMs: number;
}

type Outcome = 'authenticated' | 'grace-exceeded' | 'evicted';

/**
 * The relay's door for sockets that have not authenticated: per-source penalties (refused at
 * accept, before any SSH byte), random early drop and caps (admission.ts), eviction of the
 * heaviest source's oldest connection at the total cap, the login grace time, and a rate-limited
 * audit of everything refused (refusal-audit.ts).
 *
 * Contract: `admit` either destroys the socket (and returns undefined) or returns the PendingAuth
 * the connection must settle: `authenticated()` once it logs in, and `settle()` (also wired to the
 * socket's close) when it ends. A source pays a penalty for every connection that ends before
 * authenticating on its own or by the grace time, never for one evicted or closed by the relay.
 * `close()` stops the summary timer and writes the last summary; admitting after it is a mistake.
 */
export class PreAuthGate {
  readonly #config: GateConfig;
  readonly #now: () => number;
  readonly #admission: Admission;
  readonly #penalties: Penalties | undefined;
  readonly #refusals: RefusalAudit;
  readonly #summary: NodeJS.Timeout;
  /** Sockets admitted and not yet authenticated, by source, oldest first (for eviction). */
  readonly #pending = new Map<string, Set<Socket>>();
  /** Marks a pending socket as evicted (no penalty for its source). */
  readonly #evicted = new WeakMap<Socket, () => void>();
  #closed = false;

  constructor(config: GateConfig, audit: AuditSink, now: () => number, random?: () => number) {
    this.#config = config;
    this.#now = now;
    this.#admission = new Admission(config.startups, random);
    this.#penalties = config.penalties ? new Penalties(config.penalties) : undefined;
    this.#refusals = new RefusalAudit(audit, config.refusalAuditIntervalMs);
    this.#summary = setInterval(() => this.#refusals.flush(), config.refusalAuditIntervalMs);
    this.#summary.unref();
  }

  /** Connections admitted and not yet authenticated or closed. */
  get pending(): number {
    return this.#admission.pending;
  }

  admit(socket: Socket): PendingAuth | undefined {
    const ip = normalizeAddress(socket.remoteAddress);
    const source = sourceOf(socket.remoteAddress);
    const penalties = this.#penalties;
    // A penalised source costs one accept and one destroy: no SSH byte is read or written.
    if (penalties && penalties.refusedFor(source, this.#now()) > 0) {
      this.#refusals.refused(ip, source, 'penalised');
      socket.destroy();
      return undefined;
    }
    const admitted = this.#admission.admit(source);
    if (!admitted.ok) {
      this.#refusals.refused(ip, source, admitted.reason);
      if (admitted.reason === 'max-per-source') {
        penalties?.penalise(source, 'max-per-source', this.#now());
      }
      socket.destroy();
      return undefined;
    }
    if (admitted.evict !== undefined) this.#evictOne(admitted.evict);
    const mine = this.#pending.get(source) ?? new Set<Socket>();
    this.#pending.set(source, mine.add(socket));
    let settled = false;
    let authFailures = 0;
    let outcome: Outcome | undefined;
    const grace = setTimeout(() => {
      outcome = 'grace-exceeded';
      this.#refusals.refused(ip, source, 'login-grace-time');
      socket.destroy();
    }, this.#config.loginGraceMs);
    const settle = () => {
      if (settled) return;
      settled = true;
      clearTimeout(grace);
      this.#admission.settle(source);
      mine.delete(socket);
      if (mine.size === 0 && this.#pending.get(source) === mine) this.#pending.delete(source);
      if (outcome === 'authenticated' || outcome === 'evicted' || this.#closed) return;
      const kind = outcome ?? (authFailures > 0 ? 'authfail' : 'noauth');
      // Closed on its own without trying to authenticate: audited like a refusal, at most one
      // line per source per interval (such a connection gets no conn.closed line of its own).
      if (kind === 'noauth') this.#refusals.refused(ip, source, 'closed-before-auth');
      // The source pays, as with OpenSSH's PerSourcePenalties.
      penalties?.penalise(source, kind, this.#now());
    };
    this.#evicted.set(socket, () => {
      outcome = 'evicted';
    });
    socket.once('close', settle);
    return {
      ip,
      port: socket.remotePort ?? 0,
      settle,
      authenticated: () => {
        outcome ??= 'authenticated';
        settle();
      },
      authFailed: () => {
        authFailures += 1;
      },
    };
  }

  /** Stops the summary timer and writes what is left. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#summary);
    this.#refusals.flush();
  }

  /** Closes the oldest pending connection of `source` to make room for another source's. */
  #evictOne(source: string): void {
    const oldest = this.#pending.get(source)?.values().next().value;
    if (!oldest) return;
    this.#evicted.get(oldest)?.();
    this.#refusals.refused(normalizeAddress(oldest.remoteAddress), source, 'evicted');
    oldest.destroy();
  }
}
