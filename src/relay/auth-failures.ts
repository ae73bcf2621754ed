/**
 * Counts one connection's refused authentication attempts the way OpenSSH's sshd does, and keeps
 * their audit trail bounded. Pure bookkeeping.
 *
 * Counting (sshd auth2.c): every refused attempt counts against max-auth-tries, whatever its
 * method (`none`, password, keyboard-interactive, hostbased, a key the policy refuses, a bad
 * signature), except a `none` sent as the connection's very first attempt, which clients send
 * to learn the methods on offer. A "would you accept this key" query that is accepted is no
 * failure. Once the count reaches max-auth-tries the connection is to be disconnected.
 *
 * Auditing: the first AUDITED_FAILURES refusals of a connection are audited one by one; the rest
 * are only counted, and `summary()` reports them once, when the connection closes.
 */
export const AUDITED_FAILURES = 3;

export interface RefusalVerdict {
  /** Write this refusal to the audit trail. */
  readonly audit: boolean;
  /** The tries are used up: disconnect now. */
  readonly disconnect: boolean;
}

export interface AuthSummary {
  readonly refused: number;
  readonly unaudited: number;
  readonly lastReason: string;
}

export class AuthFailures {
  readonly #maxTries: number;
  #attempts = 0;
  #failures = 0;
  #audited = 0;
  #lastReason = '';

  constructor(maxTries: number) {
    this.#maxTries = maxTries;
  }

  /** Call once for every authentication request, before its outcome is known. */
  attempt(): void {
    this.#attempts += 1;
  }

  /** The request just counted by `attempt()` was refused for `reason`. */
  refused(method: string, reason: string): RefusalVerdict {
    if (method === 'none' && this.#attempts === 1) return { audit: false, disconnect: false };
    this.#failures += 1;
    this.#lastReason = reason;
    const audit = this.#audited < AUDITED_FAILURES;
    if (audit) this.#audited += 1;
    return { audit, disconnect: this.#failures >= this.#maxTries };
  }

  /** Refusals that were counted but not audited one by one, if any. */
  summary(): AuthSummary | undefined {
    const unaudited = this.#failures - this.#audited;
    if (unaudited === 0) return undefined;
    return { refused: this.#failures, unaudited, lastReason: this.#lastReason };
  }
}
