/**
 * Every protocol string burrow puts on the wire or into shared storage lives here, so a reader
 * (or a security reviewer) can see the whole external surface in one place.
 */

/** Software version part of the SSH identification line: `SSH-2.0-burrow`. */
export const SSH_IDENT_SOFTWARE = 'burrow';
export const SSH_IDENT = `SSH-2.0-${SSH_IDENT_SOFTWARE}`;

/** Global request a relay sends to connected agents when it is shutting down. */
export const DRAIN_REQUEST = 'drain@burrow';

/**
 * A relay that refuses a registration first sends SSH_MSG_DEBUG `<this><reason> <request>`, then
 * REQUEST_FAILURE (which carries no reason). Agents read the reason to tell a refusal retrying
 * cannot fix (not-permitted) from one another relay or a later retry can (relay-draining).
 */
export const FORWARD_REFUSED_PREFIX = 'burrow: forward refused: ';

/** Port a name gets when it is registered by the stream-local form or reached by `nc -U`. */
export const DEFAULT_SSH_PORT = 22;

/** Suffix stripped from a stream-local socket path to get the name it registers. */
export const SOCKET_SUFFIX = '.sock';

/**
 * Redis layout of the shared registry (src/registry/redis.ts). Every key starts with the prefix:
 *
 *   burrow:name:<name>          hash owner, relayId, ports ("22,80"), since; live only while
 *                               burrow:relay:<relayId> exists; its own PEXPIRE is 50 TTLs,
 *                               rewritten when the relay reconciles
 *   burrow:relay:<relayId>      hash of the relay record (address, names, connections, capacity,
 *                               draining, version, startedAt); PEXPIREs with its heartbeat
 *   burrow:relay-names:<relayId> set of the names the relay holds; same TTL
 *   burrow:relays               sorted set of relay ids (score: last heartbeat, ms epoch), an
 *                               index pruned of ids whose record has expired
 *   burrow:takeover             pub/sub channel: JSON {name, owner, from, to} when an owner
 *                               moves a name from one relay to another
 */
export const REGISTRY_PREFIX = 'burrow:';
export const REGISTRY_NAME_KEY = `${REGISTRY_PREFIX}name:`;
export const REGISTRY_RELAY_KEY = `${REGISTRY_PREFIX}relay:`;
export const REGISTRY_RELAY_NAMES_KEY = `${REGISTRY_PREFIX}relay-names:`;
export const REGISTRY_RELAYS_INDEX = `${REGISTRY_PREFIX}relays`;
export const REGISTRY_TAKEOVER_CHANNEL = `${REGISTRY_PREFIX}takeover`;

/** Environment variables read by the CLI start with this. */
export const ENV_PREFIX = 'BURROW_';

/**
 * SSH user name a relay sends when it connects to a peer relay, followed by a space and its own
 * relay id (`burrow-relay host:2222#ab12cd34`). The id only labels the holder's audit lines; the
 * peer is identified by its host key alone (`--peers`).
 */
export const PEER_USER = 'burrow-relay';

/**
 * Connections the kernel may queue before a burrow server (relay, coordinator, metrics) accepts
 * them, capped by net.core.somaxconn. When a relay dies its devices all reconnect or ask the
 * coordinator at once; beyond Node's default of 511 the kernel drops their SYNs, and each drop
 * costs the device a one-second retransmission.
 */
export const LISTEN_BACKLOG = 4096;
