/**
 * Protocol violations ssh2 (as patched by burrow) disconnects a peer for, as domain reasons.
 *
 * Contract: burrow's ssh2 patch (patches/ssh2+1.17.0.patch) makes a connection that receives
 * channel data beyond the window it advertised, or larger than the maximum packet size it
 * advertised, send SSH_MSG_DISCONNECT (PROTOCOL_ERROR), stop parsing and emit one 'error'
 * carrying `code: 'ERR_SSH_CHANNEL_WINDOW'` and `violation: 'window' | 'packet-size'`. Unpatched,
 * ssh2 would buffer such data without bound, so ssh2.ts fails loudly at load without it.
 */

/** The close reason of a connection whose peer broke a channel's flow control. */
export type FlowViolation = 'window-violation' | 'packet-size-violation';

const WINDOW_ERROR_CODE = 'ERR_SSH_CHANNEL_WINDOW';

/** The flow-control violation an ssh2 connection error reports, if it is one. */
export function flowViolationOf(err: unknown): FlowViolation | undefined {
  const e = err as { code?: unknown; violation?: unknown } | null;
  if (e === null || typeof e !== 'object' || e.code !== WINDOW_ERROR_CODE) return undefined;
  return e.violation === 'packet-size' ? 'packet-size-violation' : 'window-violation';
}
