/**
 * The shared registry: which relay serves which name, and which relays exist. The in-memory
 * implementation serves one process (`burrow serve`, tests); a Redis implementation shares it
 * across a cluster. Both pass one contract suite (registry.contract.ts).
 *
 * Names are owned by a key (fingerprint). A name lives as long as the relay that serves it: the
 * relay's record expires `ttlMs` after its last heartbeat, and from then on every name that
 * relay served reads as absent (lookup, names, claim), so a relay that dies without cleaning up
 * frees its names. An idle heartbeat therefore refreshes one relay record, not every name.
 */

/**
 * A heartbeat reconciles every held name at least every this many `ttlMs` (5 minutes at the
 * default 15 s), a belt for divergence the name count cannot see. Each one costs a few Redis
 * commands per name, so it is kept rare: amortized, it is most of an idle relay's cost.
 */
export const RESYNC_FACTOR = 20;
/** A name's own key lives this many `ttlMs` from its last write: past two missed resyncs. */
export const NAME_TTL_FACTOR = 50;

export interface NameRecord {
  readonly name: string;
  /** Fingerprint of the key that holds the name. */
  readonly owner: string;
  readonly relayId: string;
  /** Ports registered under the name, ascending. */
  readonly ports: readonly number[];
  /** When the owner first registered the name (ms epoch). */
  readonly since: number;
  /** When the record lapses unless its relay heartbeats (ms epoch). */
  readonly expiresAt: number;
}

export interface RelayRecord {
  /** `host:port#nonce`: the nonce is new on every start, so each run is a different relay. */
  readonly relayId: string;
  /** Address devices and clients use to reach the relay (`host:port`). */
  readonly address: string;
  /** Routes (name:port) served locally. */
  readonly names: number;
  readonly connections: number;
  /** Devices the relay is willing to hold; 0 when it declares no limit. */
  readonly capacity: number;
  readonly draining: boolean;
  /** burrow version the relay runs. */
  readonly version: string;
  /** When this run of the relay started (ms epoch). */
  readonly startedAt: number;
  readonly expiresAt: number;
}

/** One route a relay serves from its local table, as reported by its heartbeat. */
export interface HeldRoute {
  readonly name: string;
  readonly port: number;
  readonly owner: string;
}

/** What a relay serves locally, or a function reading it when the registry asks. */
export type Held = readonly HeldRoute[] | (() => readonly HeldRoute[]);

/** A name a relay serves locally that the registry says is held by someone else. */
export interface Conflict {
  readonly name: string;
  readonly heldBy: { readonly owner: string; readonly relayId: string };
}

/** Published when the owner of a name moved it from one relay to another. */
export interface Takeover {
  readonly name: string;
  readonly owner: string;
  readonly from: string;
  readonly to: string;
}

export interface NameQuery {
  /** Only names starting with this. */
  readonly prefix?: string;
  /** Page size: at most this many in memory; about this many in Redis (a SCAN COUNT hint). */
  readonly limit?: number;
  /** From the previous page; absent for the first. */
  readonly cursor?: string;
}

export interface NamePage {
  readonly names: NameRecord[];
  /** Pass it back for the next page; absent once the listing is complete. */
  readonly cursor?: string;
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
   * a live record; the same owner may move the name to another relay. Marks `relayId` alive for
   * `ttlMs` if it has no record yet (a claim before the relay's first heartbeat).
   */
  claim(claim: Claim): Promise<ClaimResult>;
  /** Removes `port` if `relayId` still serves it; the record goes when no port is left. */
  release(name: string, port: number, relayId: string): Promise<void>;
  lookup(name: string): Promise<NameRecord | undefined>;
  /**
   * `lookup` of each of `names`, in order, read together (one round trip in Redis): the same
   * answer for each name as `lookup` would give at that moment.
   */
  lookupMany(names: readonly string[]): Promise<(NameRecord | undefined)[]>;
  /**
   * Publishes the relay record for `ttlMs`, which keeps every name the relay serves alive.
   * Costs O(1) unless the registry may disagree with `held` (every route the relay serves
   * locally; a function is called once the registry is ready to compare, so registrations that
   * completed meanwhile count): when it has no full record of this relay, when the number of
   * names it lists for the relay differs from `held`'s, or when RESYNC_FACTOR × `ttlMs` passed
   * since the last time, it reconciles: names the relay still owns (same owner, same relayId) get
   * their ports set to what is held; names with no live record are recreated (the registry lost
   * them: restarted empty, failed over, expired); names held live by another owner or relayId are
   * left alone and returned, so the relay can drop those stale registrations; names the registry
   * lists for this relay that it no longer holds are removed. A relayId never refreshes another's
   * names.
   */
  heartbeat(relay: Omit<RelayRecord, 'expiresAt'>, held: Held, ttlMs: number): Promise<Conflict[]>;
  /** Live relays, in no particular order. */
  relays(): Promise<RelayRecord[]>;
  /**
   * One page of live names. Following the cursors returns every name that was live for the whole
   * listing at least once (a name may appear twice; one added or removed meanwhile may not).
   * A page can be empty before the end.
   */
  names(query?: NameQuery): Promise<NamePage>;
  /**
   * Calls `listener` for every takeover claimed on any relay sharing this registry (not only
   * this one). Resolves once listening, with a function that stops it. Delivery is best effort:
   * takeovers published while the registry is unreachable are not replayed.
   */
  onTakeover(listener: (t: Takeover) => void): Promise<() => void>;
  /**
   * How long (ms) commands have been waiting with no answer to any of them (0 when none waits):
   * tells a registry that stopped answering from one that is only slow. Absent: cannot tell.
   */
  silentMs?(): number;
  close(): Promise<void>;
}
