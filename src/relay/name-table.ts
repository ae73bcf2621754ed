import { type Route, routeKey } from '../core/names.js';

/** One registered route and who serves it. `C` is the connection type (opaque here). */
export interface Registration<C, T> {
  readonly route: Route;
  /** Key fingerprint that owns the name. */
  readonly owner: string;
  readonly conn: C;
  /** What the device asked for, echoed back verbatim when a client connects. */
  readonly target: T;
  readonly since: number;
}

export type RegisterResult<C, T> =
  | { ok: true; replaced?: Registration<C, T> }
  | { ok: false; heldBy: string };

/**
 * The relay's local routing table. Pure data structure, no I/O.
 *
 * Contract:
 * - A name is owned by one key at a time: routes `n:p1` and `n:p2` must have the same owner.
 * - Registering a route already held by the same owner on *another* connection replaces it at
 *   once and returns the replaced registration (the caller closes that stale connection).
 * - `release` only removes a route if it is still served by the given connection, so a stale
 *   connection closing after a takeover never removes its successor's registration.
 */
export class NameTable<C, T> {
  readonly #routes = new Map<string, Registration<C, T>>();
  readonly #owners = new Map<string, { owner: string; routes: number }>();

  get size(): number {
    return this.#routes.size;
  }

  register(reg: Registration<C, T>): RegisterResult<C, T> {
    const held = this.#owners.get(reg.route.name);
    if (held && held.owner !== reg.owner) return { ok: false, heldBy: held.owner };
    const key = routeKey(reg.route);
    const previous = this.#routes.get(key);
    this.#routes.set(key, reg);
    if (!previous) {
      if (held) held.routes += 1;
      else this.#owners.set(reg.route.name, { owner: reg.owner, routes: 1 });
      return { ok: true };
    }
    return previous.conn === reg.conn ? { ok: true } : { ok: true, replaced: previous };
  }

  /** Removes `route` if `conn` still serves it; returns the removed registration. */
  release(route: Route, conn: C): Registration<C, T> | undefined {
    const key = routeKey(route);
    const reg = this.#routes.get(key);
    if (!reg || reg.conn !== conn) return undefined;
    this.#routes.delete(key);
    const held = this.#owners.get(route.name);
    if (held && --held.routes === 0) this.#owners.delete(route.name);
    return reg;
  }

  lookup(route: Route): Registration<C, T> | undefined {
    return this.#routes.get(routeKey(route));
  }

  ownerOf(name: string): string | undefined {
    return this.#owners.get(name)?.owner;
  }

  *entries(): IterableIterator<Registration<C, T>> {
    yield* this.#routes.values();
  }
}
