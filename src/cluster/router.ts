import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { PEER_USER } from '../core/constants.js';
import type { Route } from '../core/names.js';
import { RefusalBurst } from '../core/refusal-burst.js';
import type { ConnectRefusal } from '../core/refusals.js';
import type { Registry } from '../registry/registry.js';
import { LinkError, OpenFailure, RelayLink } from '../ssh/client.js';
import { DialError, type DialFailure, type PeerLink, PeerLinks } from './peer-links.js';
import type { Peer, PeerSet } from './peers.js';

/**
 * Entering through any relay: where a name this relay does not hold lives, and the channel to it
 * over a relay-to-relay link. The registry only says *where* to go (so a Redis an attacker can
 * write may misroute or deny); *who* answers is decided by host keys in the peers file, and the
 * holder serves only its own local table, so nothing read from Redis grants access.
 */
export interface ClusterConfig {
  readonly relayId: string;
  readonly peers: PeerSet;
  /** This relay's host key (private, OpenSSH text): also its client key toward peers. */
  readonly hostKey: string;
  /** What the relay last knew from the registry is used for at most this long when it fails. */
  readonly registryTtlMs: number;
  readonly keepaliveIntervalMs: number;
  readonly keepaliveCountMax: number;
  /** Bound on dialling a peer (TCP + handshake + authentication). */
  readonly dialTimeoutMs: number;
  /** After a failed dial, uses of that peer fail at once for this long. */
  readonly downForMs: number;
}

export interface ClusterDeps {
  readonly registry: Registry;
  readonly log: Logger;
  readonly now: () => number;
  readonly ciphers?: readonly string[];
}

/** Why an entry relay could not reach a name another relay holds. */
export type RemoteRefusal = Extract<
  ConnectRefusal,
  'peer-unreachable' | 'peer-refused' | 'peer-untrusted'
>;

export type RemoteOpen =
  | { channel: Duplex; relay: string }
  | { refused: RemoteRefusal; relay: string }
  /** The holder answered with a refusal text of its own (its local table, its device). */
  | { holderText: string; relay: string }
  /**
   * The registry answered nothing for LOOKUP_BUDGET_MS (or a lookup failed less than
   * DOWN_VERDICT_MS ago) and no usable holder was known;
   * `firstOfBurst` (see RefusalBurst) says whether to audit it.
   */
  | { refused: 'registry-unavailable'; firstOfBurst: boolean };

/** Counters read at any time (metrics): links open or being dialled, failed dials by failure. */
export interface ClusterStats {
  readonly links: number;
  readonly dialErrors: Readonly<Record<DialFailure, number>>;
}

interface Where {
  readonly relayId: string;
  readonly address: string;
}

/**
 * The longest a client's channel open waits for a registry that answers nothing at all. A
 * healthy registry answers each command in milliseconds (well under 100 ms on a loaded
 * machine), while one failing over (Sentinel) or stopped answers only when the Redis link's
 * command timeout (3 s) rejects: by then OpenSSH may have given up on a jump host's banner. So
 * 750 ms: far above a healthy answer, and the open and its one follow-up lookup together stay
 * under 2 s. Past it the client gets the known holder, or is told the registry is unavailable;
 * the lookup goes on and refreshes what is known.
 */
export const LOOKUP_BUDGET_MS = 750;

/** Refusals for an unavailable registry less than this far apart are one burst (audited once). */
const UNAVAILABLE_BURST_QUIET_MS = 10_000;

/**
 * A failed lookup says the registry is down for this long: lookups meanwhile do not wait for it
 * at all. Past it the next lookup gets LOOKUP_BUDGET_MS again, so a registry that came back is
 * noticed by the first client after it, even on a relay that asked nothing for a while.
 */
const DOWN_VERDICT_MS = 1000;

/** Timers and the registry's own clock may disagree by this much. */
const TIMER_SLACK_MS = 50;

/** #where's answer when the registry could not say in time and nothing usable was known. */
const UNAVAILABLE: unique symbol = Symbol('registry unavailable');

/** What #where finds: a holder, nobody, or UNAVAILABLE. */
type Found = Where | undefined | typeof UNAVAILABLE;

export class ClusterRouter {
  readonly #config: ClusterConfig;
  readonly #deps: ClusterDeps;
  readonly #links: PeerLinks;
  /** Last answer per name (undefined: held by no live relay), kept to ride out registry outages. */
  readonly #known = new Map<string, { where: Where | undefined; at: number }>();
  /** When the last lookup failed, if none has succeeded since: the registry is then down. */
  #failedAt: number | undefined;
  readonly #unavailable: RefusalBurst;
  readonly #dialErrors: Record<DialFailure, number> = { unreachable: 0, refused: 0, untrusted: 0 };

  constructor(config: ClusterConfig, deps: ClusterDeps) {
    this.#config = config;
    this.#deps = deps;
    this.#unavailable = new RefusalBurst(UNAVAILABLE_BURST_QUIET_MS, deps.now);
    this.#links = new PeerLinks({
      now: deps.now,
      downForMs: config.downForMs,
      dial: (address, lost) =>
        this.#dial(address, lost).catch((err: unknown) => {
          this.#dialErrors[err instanceof DialError ? err.code : 'unreachable'] += 1;
          throw err;
        }),
    });
  }

  stats(): ClusterStats {
    return { links: this.#links.size, dialErrors: { ...this.#dialErrors } };
  }

  /** The peer relay a client key belongs to, if it is one (checked before the policy file). */
  peerOf(keyBlob: Buffer): Peer | undefined {
    return this.#config.peers.find(keyBlob);
  }

  /**
   * Opens a channel to `route` on the relay that holds it, or says why not; undefined when no
   * other live relay holds it (the caller answers as for an unknown name). Each registry lookup
   * it makes waits at most LOOKUP_BUDGET_MS, and none when the registry is known to be down.
   */
  async open(
    route: Route,
    origin: { originAddr: string; originPort: number },
  ): Promise<RemoteOpen | undefined> {
    const where = await this.#where(route.name);
    if (where === UNAVAILABLE) {
      return { refused: 'registry-unavailable', firstOfBurst: this.#unavailable.starts() };
    }
    if (!where) return undefined;
    const first = await this.#openAt(where, route, origin);
    if ('channel' in first) return first;
    // The name may have moved between the lookup and the open (its relay drained or died and
    // the agent registered elsewhere): follow it once if the registry now names another relay.
    const now = await this.#where(route.name);
    if (now === UNAVAILABLE || !now || now.relayId === where.relayId) return first;
    return this.#openAt(now, route, origin);
  }

  async #openAt(
    where: Where,
    route: Route,
    origin: { originAddr: string; originPort: number },
  ): Promise<RemoteOpen> {
    let link: PeerLink;
    try {
      link = await this.#links.get(where.address);
    } catch (err) {
      const failure = err instanceof DialError ? err.code : 'unreachable';
      this.#deps.log.warn(
        { relay: where.relayId, address: where.address, err: (err as Error).message },
        'peer relay not usable',
      );
      return { refused: `peer-${failure}`, relay: where.relayId };
    }
    try {
      const channel = await link.openDirect(
        route.name,
        route.port,
        origin.originAddr,
        origin.originPort,
      );
      return { channel, relay: where.relayId };
    } catch (err) {
      const text = err instanceof OpenFailure && err.code === 'open-refused' ? err.description : '';
      if (text === '') {
        return { refused: 'peer-unreachable', relay: where.relayId };
      }
      return { holderText: text, relay: where.relayId };
    }
  }

  close(): void {
    this.#links.close();
  }

  /**
   * The other live relay holding `name` and its advertised address, fresh or at most a TTL old;
   * UNAVAILABLE when the registry did not answer in time and no such holder was known.
   * Bounded: a registry known to be down (a lookup failed less than DOWN_VERDICT_MS ago, none
   * succeeded since) is not waited for at all, and one that answers nothing for LOOKUP_BUDGET_MS
   * (a Sentinel failover, a stopped Redis) is not waited for longer; either way the lookup goes
   * on and refreshes what is known. A registry that is only slow (it answers other commands
   * meanwhile, see Registry.silentMs) is waited for, each command within the link's timeout. A
   * known answer dated after `now` (the clock went back) is not used.
   */
  async #where(name: string): Promise<Found> {
    const now = this.#deps.now();
    const known = this.#known.get(name);
    const usable = known && known.at <= now && now - known.at <= this.#config.registryTtlMs;
    // Only a known holder is worth answering with (the holder checks its own table); a known
    // "nobody" may be a name registered elsewhere a moment ago, so it is never the answer when
    // the registry cannot be asked.
    const fallback: Found = (usable && known.where) || UNAVAILABLE;
    const failedAt = this.#failedAt;
    const down = failedAt !== undefined && now >= failedAt && now - failedAt < DOWN_VERDICT_MS;
    const asked = this.#ask(name, now);
    if (down) {
      asked.catch(() => {});
      return fallback;
    }
    const answer = asked.then(
      (where): { where: Found } => ({ where }),
      (): { where: Found } => ({ where: fallback }),
    );
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const budget = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), LOOKUP_BUDGET_MS);
      });
      const got = await Promise.race([answer, budget]);
      clearTimeout(timer);
      if (got) return got.where;
      // Slow is not lost: while the registry answers other commands, this one is waited for
      // (each of its commands is bounded by the link's command timeout).
      const silent = this.#deps.registry.silentMs?.() ?? Number.POSITIVE_INFINITY;
      if (silent >= LOOKUP_BUDGET_MS - TIMER_SLACK_MS) return fallback;
    }
  }

  /** Asks the registry; records the answer (and the registry's health). Rejects when it fails. */
  async #ask(name: string, now: number): Promise<Where | undefined> {
    try {
      const record = await this.#deps.registry.lookup(name);
      let where: Where | undefined;
      if (record && record.relayId !== this.#config.relayId) {
        const relays = await this.#deps.registry.relays();
        const holder = relays.find((r) => r.relayId === record.relayId);
        if (holder?.address) where = { relayId: holder.relayId, address: holder.address };
      }
      if (this.#failedAt !== undefined) {
        this.#failedAt = undefined;
        this.#deps.log.info('registry answers cluster lookups again');
      }
      this.#known.set(name, { where, at: now });
      return where;
    } catch (err) {
      const first = this.#failedAt === undefined;
      this.#failedAt = this.#deps.now();
      if (first) {
        this.#deps.log.warn(
          { err },
          'registry unreachable: cluster lookups use what was last known',
        );
      }
      throw err;
    }
  }

  #dial(address: string, lost: () => void): Promise<PeerLink> {
    const at = address.lastIndexOf(':');
    const host = address.slice(0, at).replace(/^\[|\]$/g, '');
    const port = Number(address.slice(at + 1));
    if (at <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
      return Promise.reject(new DialError('unreachable', `bad peer address ${address}`));
    }
    return RelayLink.connect(
      {
        host,
        port,
        username: `${PEER_USER} ${this.#config.relayId}`,
        privateKey: this.#config.hostKey,
        verifyHostKey: (blob) =>
          this.#config.peers.find(blob)
            ? { ok: true }
            : { ok: false, message: `host key of ${address} is not in the peers file` },
        keepaliveIntervalMs: this.#config.keepaliveIntervalMs,
        keepaliveCountMax: this.#config.keepaliveCountMax,
        connectTimeoutMs: this.#config.dialTimeoutMs,
        ...(this.#deps.ciphers ? { ciphers: this.#deps.ciphers } : {}),
      },
      {
        // A holder never opens channels toward an entry relay.
        channel: (_info, _accept, reject) => reject(),
        drain: () => {},
        lost,
      },
    ).catch((err: unknown) => {
      if (err instanceof LinkError) {
        if (err.code === 'host-key') throw new DialError('untrusted', err.message);
        if (err.code === 'auth') throw new DialError('refused', err.message);
        throw new DialError('unreachable', err.message);
      }
      throw new DialError('unreachable', String(err));
    });
  }
}
