/**
 * Which refusals of one recurring kind are audited: the first of each burst, where a burst is a
 * run of refusals less than `quietMs` apart. For refusals caused by the relay's own state rather
 * than by the client (the registry being unavailable), so an outage under load writes one audit
 * line per burst, whatever the number of attempts; the refusal metric still counts every one.
 * Pure: time comes from `now`.
 */
export class RefusalBurst {
  readonly #quietMs: number;
  readonly #now: () => number;
  #last: number | undefined;

  constructor(quietMs: number, now: () => number) {
    this.#quietMs = quietMs;
    this.#now = now;
  }

  /** Records one refusal; true when it starts a burst (audit it), false within one. */
  starts(): boolean {
    const now = this.#now();
    const last = this.#last;
    this.#last = now;
    // A clock that went back starts a burst too, so an outage is never left unaudited.
    return last === undefined || now < last || now - last >= this.#quietMs;
  }
}
