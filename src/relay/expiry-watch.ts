import type { RelayConnection } from './connection.js';
import { judge, type PolicyView } from './revocation.js';

/**
 * Revocation on a running relay: re-judges connections against the policy (revocation.ts is the
 * pure judgement) and keeps one timer for the soonest key expiry among them, re-armed after
 * every re-judging. A policy reload, or a changed webhook answer, re-judges everyone at once.
 */
export class ExpiryWatch {
  readonly #policy: () => PolicyView;
  readonly #now: () => number;
  readonly #connections: () => Iterable<RelayConnection>;
  #expiry: { at: number; timer: NodeJS.Timeout } | undefined;
  #closed = false;

  constructor(
    policy: () => PolicyView,
    now: () => number,
    connections: () => Iterable<RelayConnection>,
  ) {
    this.#policy = policy;
    this.#now = now;
    this.#connections = connections;
  }

  /** Re-judges `among` (a connection that just authenticated) and arms for its expiry. */
  watch(among: Iterable<RelayConnection>): void {
    this.#arm(this.#rejudge(among));
  }

  /** Re-judges every connection. */
  readonly all = (): void => {
    clearTimeout(this.#expiry?.timer);
    this.#expiry = undefined;
    if (!this.#closed) this.#arm(this.#rejudge(this.#connections()));
  };

  close(): void {
    this.#closed = true;
    clearTimeout(this.#expiry?.timer);
  }

  #rejudge(among: Iterable<RelayConnection>): number | undefined {
    const byId = new Map<string, RelayConnection>();
    for (const c of among) byId.set(c.id, c);
    const held = [...byId.values()].flatMap((c) => c.holding ?? []);
    const verdict = judge(this.#policy(), this.#now(), held);
    for (const a of verdict.actions) {
      const c = byId.get(a.conn);
      if (a.kind === 'close') c?.revoke(a.reason);
      else if (a.kind === 'release') c?.releaseName(a.route);
      else c?.cutBridges(a.route);
    }
    return verdict.wakeAt;
  }

  #arm(at: number | undefined): void {
    if (at === undefined || this.#closed || (this.#expiry && this.#expiry.at <= at)) return;
    clearTimeout(this.#expiry?.timer);
    // setTimeout cannot wait longer than 2^31-1 ms; a later expiry re-arms when this one fires.
    const delay = Math.min(Math.max(at - this.#now(), 0), 2 ** 31 - 1);
    this.#expiry = { at, timer: setTimeout(this.all, delay) };
    this.#expiry.timer.unref();
  }
}
