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

/** Redis key prefix for the shared registry (used by the Redis implementation). */
export const REGISTRY_PREFIX = 'burrow:';

/** Environment variables read by the CLI start with this. */
export const ENV_PREFIX = 'BURROW_';
