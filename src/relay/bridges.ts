import { type Route, routeKey } from '../core/names.js';

/**
 * The open bridges one connection is an end of, each with the route it carries and which end this
 * connection is. Pure bookkeeping: `abort` functions come from splice and are idempotent.
 */
export class BridgeSet {
  readonly #bridges = new Map<() => void, { route: Route; asClient: boolean }>();

  add(abort: () => void, route: Route, asClient: boolean): void {
    this.#bridges.set(abort, { route, asClient });
  }

  delete(abort: () => void): void {
    this.#bridges.delete(abort);
  }

  /** Routes this connection reaches as a client, one entry per open bridge. */
  reaching(): Route[] {
    return [...this.#bridges.values()].filter((b) => b.asClient).map((b) => b.route);
  }

  /** Aborts the bridges to `route` at the given end (all of them when `asClient` is omitted). */
  abort(route?: Route, asClient?: boolean): void {
    const key = route && routeKey(route);
    for (const [abort, b] of [...this.#bridges]) {
      if (key !== undefined && routeKey(b.route) !== key) continue;
      if (asClient !== undefined && b.asClient !== asClient) continue;
      abort();
    }
  }
}
