import type { Duplex } from 'node:stream';
import { CodedError } from '../core/errors.js';

/**
 * The persistent relay-to-relay links of one relay, one per peer address: opened on first use,
 * shared by every operator entering through this relay for a name that peer holds, kept alive by
 * the link's own keepalive, and reopened on the next use after it is lost.
 *
 * Contract:
 * - concurrent first uses of one address share one dial;
 * - a dial that fails marks the address down for `downForMs`: uses meanwhile fail at once with the
 *   same failure, without dialling (an operator is told at once, never after a timeout);
 * - a lost link is forgotten at once; the next use dials again;
 * - `close()` closes every link and makes later uses fail; idempotent.
 * The dial itself bounds its time (connect + handshake + authentication).
 */
export interface PeerLink {
  openDirect(host: string, port: number, originAddr: string, originPort: number): Promise<Duplex>;
  readonly isLost: boolean;
  close(): void;
}

/** Why a peer could not be used; `refused` means it answered and would not take us. */
export type DialFailure = 'unreachable' | 'refused' | 'untrusted';

export class DialError extends CodedError<DialFailure> {
  override readonly name = 'DialError';
}

export interface PeerLinksDeps {
  /** Connects and authenticates to the relay at `address`; calls `lost` once if it later drops. */
  readonly dial: (address: string, lost: () => void) => Promise<PeerLink>;
  readonly now: () => number;
  readonly downForMs: number;
}

interface Slot {
  link?: Promise<PeerLink>;
  down?: { until: number; error: DialError };
}

export class PeerLinks {
  readonly #deps: PeerLinksDeps;
  readonly #slots = new Map<string, Slot>();
  #closed = false;

  constructor(deps: PeerLinksDeps) {
    this.#deps = deps;
  }

  /** The live link to `address`, dialling it if needed. Rejects with a DialError. */
  get(address: string): Promise<PeerLink> {
    if (this.#closed) return Promise.reject(new DialError('unreachable', 'relay closing'));
    const slot = this.#slots.get(address) ?? {};
    this.#slots.set(address, slot);
    if (slot.down && slot.down.until > this.#deps.now()) return Promise.reject(slot.down.error);
    if (slot.link) return slot.link;
    const dialing = this.#deps
      .dial(address, () => {
        if (slot.link === dialing) slot.link = undefined;
      })
      .then(
        (link) => {
          if (this.#closed) link.close();
          if (link.isLost && slot.link === dialing) slot.link = undefined;
          return link;
        },
        (err: unknown) => {
          const error = err instanceof DialError ? err : new DialError('unreachable', String(err));
          if (slot.link === dialing) slot.link = undefined;
          slot.down = { until: this.#deps.now() + this.#deps.downForMs, error };
          throw error;
        },
      );
    slot.link = dialing;
    slot.down = undefined;
    return dialing;
  }

  /** Links currently open or being dialled. */
  get size(): number {
    let n = 0;
    for (const s of this.#slots.values()) if (s.link) n += 1;
    return n;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const slot of this.#slots.values()) {
      slot.link?.then(
        (l) => l.close(),
        () => {},
      );
    }
    this.#slots.clear();
  }
}
