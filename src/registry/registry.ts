/**
 * The shared registry: which relay serves which name, and which relays exist. The in-memory
 * implementation serves one process (`burrow serve`, tests); a Redis implementation shares it
 * across a cluster. Both pass one contract suite (registry.contract.ts).
 *
 * Names are owned by a key (fingerprint). A record is kept alive by its relay's heartbeat and
 * expires `ttlMs` after the last one, so a relay that dies without cleaning up frees its names.
 */
export interface NameRecord {
  readonly name: string;
  /** Fingerprint of the key that holds the name. */
  readonly owner: string;
  readonly relayId: string;
  /** Ports registered under the name, ascending. */
  readonly ports: readonly number[];
  /** When the owner first registered the name (ms epoch). */
  readonly since: number;
  /** When the record lapses unless refreshed (ms epoch). */
  readonly expiresAt: number;
}

export interface RelayRecord {
  readonly relayId: string;
  /** Address devices and clients use to reach the relay (`host:port`). */
  readonly address: string;
  readonly names: number;
  readonly connections: number;
  readonly draining: boolean;
  readonly expiresAt: number;
}

export interface Claim {
  readonly name: string;
  readonly port: number;
  readonly owner: string;
  readonly relayId: string;
  readonly ttlMs: number;
}

export type ClaimResult =
  | { ok: true; record: NameRecord }
  | { ok: false; heldBy: { owner: string; relayId: string } };

export interface Registry {
  /**
   * Atomically adds `port` to `name` for `owner` on `relayId`. Refused while another owner holds
   * an unexpired record; the same owner may move the name to another relay.
   */
  claim(claim: Claim): Promise<ClaimResult>;
  /** Removes `port` if `relayId` still serves it; the record goes when no port is left. */
  release(name: string, port: number, relayId: string): Promise<void>;
  lookup(name: string): Promise<NameRecord | undefined>;
  /** Extends every record of `relayId` and its relay record by `ttlMs`. */
  heartbeat(relay: Omit<RelayRecord, 'expiresAt'>, ttlMs: number): Promise<void>;
  relays(): Promise<RelayRecord[]>;
  names(): Promise<NameRecord[]>;
  close(): Promise<void>;
}
