import type { ConnectRefusal } from '../core/refusals.js';
import type { OpenRefusal } from '../ssh/connection.js';

/**
 * What a client is told when the relay would not connect it to a name (the reasons are
 * `ConnectRefusal` in core/refusals.ts). One table for every path a client can ask by
 * (`direct-tcpip` from `ssh -W`/`-J`/`-L`, and `nc -U`), so an operator reads the same sentence
 * whichever way they asked.
 *
 * Contract: a text never says more about a name than the asker may know. `not-permitted` is the
 * answer for a name the key may not reach whether or not that name is registered (the relay
 * checks policy before it looks the name up), so existence is only ever revealed to a key that
 * may reach the name.
 */

/** Prefix of every refusal text, so a reader can tell the relay's words from the device's. */
const PREFIX = 'burrow: ';

const REFUSALS: Record<
  ConnectRefusal,
  { code: OpenRefusal['code']; text: (to: string, relay: string) => string }
> = {
  'not-a-name': {
    code: 'administratively-prohibited',
    text: (to) => `only registered names can be reached; ${to} is not a name`,
  },
  'bad-port': {
    code: 'administratively-prohibited',
    text: (to) => `only registered names can be reached; ${to} has no valid port`,
  },
  'key-not-authorized': {
    code: 'administratively-prohibited',
    text: () => 'this key is no longer authorized on this relay',
  },
  'not-permitted': {
    code: 'administratively-prohibited',
    text: (to) => `not permitted to reach ${to}`,
  },
  'unknown-name': {
    code: 'connect-failed',
    text: (to) => `${to} is not connected to this relay`,
  },
  'relay-draining': {
    code: 'connect-failed',
    text: (to) =>
      `this relay is shutting down and ${to} is not connected to it; ` +
      'the device may have moved to another relay',
  },
  'too-many-channels': {
    code: 'resource-shortage',
    text: (to) => `too many connections open at once; cannot open another to ${to}`,
  },
  'device-refused': {
    code: 'connect-failed',
    text: (to) => `the device refused the connection to ${to}`,
  },
  'peer-unreachable': {
    code: 'connect-failed',
    text: (to, relay) => `${to} is on relay ${relay}, which cannot be reached`,
  },
  'peer-refused': {
    code: 'connect-failed',
    text: (to, relay) =>
      `${to} is on relay ${relay}, which does not accept this relay as a peer (--peers)`,
  },
  'peer-untrusted': {
    code: 'connect-failed',
    text: (to, relay) =>
      `${to} is on relay ${relay}, whose host key is not in this relay's peers file (--peers)`,
  },
  'registry-unavailable': {
    code: 'connect-failed',
    text: (to) => `registry unavailable, so where ${to} is connected is not known; try again`,
  },
};

/** Longest target text put into a refusal; what a client sends is theirs to make long. */
const MAX_TARGET = 120;

/**
 * The reason code and text a client is sent when `to` (as the client wrote it) is refused;
 * `relay` is the relay holding the name, for the reasons that name one.
 */
export function refusalFor(reason: ConnectRefusal, to: string, relay = '?'): OpenRefusal {
  const { code, text } = REFUSALS[reason];
  return { code, text: `${PREFIX}${text(printable(to), printable(relay))}` };
}

/**
 * The reason behind a refusal text a peer relay sent for `to` (the inverse of refusalFor, for the
 * reasons a holder gives); undefined for any other text.
 */
export function refusalOfText(text: string, to: string): ConnectRefusal | undefined {
  for (const reason of Object.keys(REFUSALS) as ConnectRefusal[]) {
    if (refusalFor(reason, to).text === text) return reason;
  }
  return undefined;
}

function printable(s: string): string {
  const shown = s.length > MAX_TARGET ? `${s.slice(0, MAX_TARGET)}…` : s;
  return shown.replace(/[^\x20-\x7e…]/g, '?');
}
