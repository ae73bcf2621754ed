import type { Duplex } from 'node:stream';
import { checkName, isValidPort, type Route, routeFromSocketPath } from '../core/names.js';
import type { RegisterRefusal } from '../core/refusals.js';
import type { ExecStream, ForwardTarget } from '../ssh/connection.js';

/**
 * Reading what a peer asked for, and the replies to requests the relay cannot serve. Pure apart
 * from writing to the stream it is given.
 */

/** Shown (on stderr) to someone who runs a command other than `nc -U` on the relay. */
export const USAGE_EXEC =
  'burrow: this relay only routes connections. Use: ssh -J <relay> user@<name>, ' +
  'ssh -W <name>:<port> <relay>, or ssh <relay> nc -U /path/<name>.sock\r\n';

/** The route a registration asks for, or why it is not one. */
export function routeOf(
  target: ForwardTarget,
): { route: Route } | { error: Extract<RegisterRefusal, 'not-a-name' | 'port-required'> } {
  if (target.kind === 'streamlocal') {
    const route = routeFromSocketPath(target.socketPath);
    return route ? { route } : { error: 'not-a-name' };
  }
  if (!isValidPort(target.bindPort)) return { error: 'port-required' };
  const check = checkName(target.bindAddr);
  return check.ok
    ? { route: { name: check.name, port: target.bindPort } }
    : { error: 'not-a-name' };
}

/**
 * The request as the device wrote it (`name:port`, or the socket path), bounded. It ends every
 * forward-refused debug message, and clients pair the refusal with their request by this text.
 */
export function describeTarget(t: ForwardTarget): string {
  const text = t.kind === 'tcpip' ? `${t.bindAddr}:${t.bindPort}` : t.socketPath;
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

export function failExec(stream: ExecStream, message: string): void {
  stream.stderr.write(message);
  stream.exit(1);
  stream.end();
}

export function closeChannel(ch: Duplex): void {
  const c = ch as Duplex & { close?: () => void };
  if (typeof c.close === 'function') c.close();
  else c.destroy();
}
