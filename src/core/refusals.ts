import { FORWARD_REFUSED_PREFIX } from './constants.js';

/**
 * Every reason a relay gives for refusing something, as one typed vocabulary shared by the relay
 * (which says it), the agent (which decides on it) and the client (which reads it off the wire).
 * Pure: no I/O.
 *
 * Contract: these words are protocol. A relay sends a registration refusal as the SSH debug
 * message `burrow: forward refused: <reason> <request>` (see FORWARD_REFUSED_PREFIX), and agents
 * of other versions parse it, so a word here is never renamed; a new word is read as `unknown` by
 * older agents.
 */

/** Why a relay refused to register a name (`ssh -R`, tcpip-forward / streamlocal-forward). */
export const REGISTER_REFUSALS = [
  'not-a-name',
  'port-required',
  'key-not-authorized',
  'not-permitted',
  'relay-draining',
  'name-held',
  // Not sent by this version's relay (a name held on another relay is `name-held`, and a registry
  // that cannot answer leaves the local table to decide), but still read from relays that send them.
  'name-held-elsewhere',
  'registry-unavailable',
] as const;
export type RegisterRefusal = (typeof REGISTER_REFUSALS)[number];

/** Registration refusals no retry can fix: the relay's policy (or the request) has to change. */
export const PERMANENT_REGISTER_REFUSALS = [
  'not-permitted',
  'key-not-authorized',
  'not-a-name',
  'port-required',
] as const satisfies readonly RegisterRefusal[];

/** Why a relay would not connect a client to a name (direct-tcpip, `nc -U`). */
export const CONNECT_REFUSALS = [
  'not-a-name',
  'bad-port',
  'key-not-authorized',
  'not-permitted',
  'unknown-name',
  'relay-draining',
  'too-many-channels',
  'device-refused',
  // The name is held by another relay of the cluster, and:
  'peer-unreachable',
  'peer-refused',
  'peer-untrusted',
  // Another relay may hold the name, but the registry did not say which in time.
  'registry-unavailable',
] as const;
export type ConnectRefusal = (typeof CONNECT_REFUSALS)[number];

/** Why a relay closed a live connection because of its key (a policy reload or an expiry). */
export const REVOKE_REASONS = ['key-revoked', 'key-expired', 'key-from-mismatch'] as const;
export type RevokeReason = (typeof REVOKE_REASONS)[number];

/**
 * Why a relay closed a connection itself (audited as the `conn.closed` reason). A connection
 * that ends otherwise carries the transport's word (`peer-closed`, `keepalive-timeout`, …).
 */
export const CLOSE_REASONS = [
  'max-auth-tries',
  'taken-over',
  'relay-closed',
  ...REVOKE_REASONS,
] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

/** What a client reports when a registration failed without a reason it can trust. */
export type RegisterFailure = RegisterRefusal | 'unknown' | 'connection-lost';

const REGISTER_SET: ReadonlySet<string> = new Set(REGISTER_REFUSALS);
const PERMANENT_SET: ReadonlySet<string> = new Set(PERMANENT_REGISTER_REFUSALS);

/** True when `s` (as a relay sent it) is a registration refusal this version knows. */
export function isRegisterRefusal(s: string): s is RegisterRefusal {
  return REGISTER_SET.has(s);
}

/** True for a refusal an agent must not retry: it stops and tells the operator what to change. */
export function isPermanentRefusal(reason: string): boolean {
  return PERMANENT_SET.has(reason);
}

/**
 * The debug message a relay sends before refusing a registration. `request` is the request as the
 * device wrote it (`name:port`, or the socket path), so a client can pair the reason with it.
 */
export function forwardRefusedText(reason: RegisterRefusal, request: string): string {
  return `${FORWARD_REFUSED_PREFIX}${reason} ${request}`;
}

/**
 * Reads a relay's debug message: undefined when it is not a forward refusal; otherwise the
 * request text it refers to and the reason, `unknown` when the reason is not one this version
 * knows (never trusted as a RegisterRefusal without the guard).
 */
export function parseForwardRefused(
  text: string,
): { reason: RegisterRefusal | 'unknown'; request: string } | undefined {
  if (!text.startsWith(FORWARD_REFUSED_PREFIX)) return undefined;
  const rest = text.slice(FORWARD_REFUSED_PREFIX.length);
  const space = rest.indexOf(' ');
  const word = space < 0 ? rest : rest.slice(0, space);
  const request = space < 0 ? '' : rest.slice(space + 1);
  return { reason: isRegisterRefusal(word) ? word : 'unknown', request };
}
