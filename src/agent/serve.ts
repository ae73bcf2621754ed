import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { IncomingChannel } from '../ssh/client.js';
import { splice } from '../ssh/splice.js';
import { ignoreExpectedErrors } from '../streams/expected-errors.js';

/** One registered route and the local service it leads to. */
export interface Forward {
  readonly name: string;
  readonly port: number;
  readonly targetHost: string;
  readonly targetPort: number;
}

export type Dial = (host: string, port: number) => Socket;

export const defaultDial: Dial = (host, port) => netConnect({ host, port, noDelay: true });

/**
 * Serves one incoming channel: dials the forward's local target and only then accepts, so a
 * target that refuses (or does not answer within `dialTimeoutMs`) is reported to that client as
 * a failed channel open and nothing else is affected.
 */
export function serveChannel(
  info: IncomingChannel,
  accept: () => Duplex,
  reject: () => void,
  forwards: readonly Forward[],
  opts: { dial: Dial; dialTimeoutMs: number; log: Logger },
): void {
  const forward = forwards.find((f) => f.name === info.name && f.port === info.port);
  if (!forward) {
    opts.log.warn({ name: info.name, port: info.port }, 'channel for a name not registered');
    reject();
    return;
  }
  const target = `${forward.targetHost}:${forward.targetPort}`;
  const socket = opts.dial(forward.targetHost, forward.targetPort);
  let settled = false;
  const timer = setTimeout(() => fail('no answer'), opts.dialTimeoutMs);
  function fail(why: string) {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    socket.destroy();
    reject();
    opts.log.warn(
      { route: `${forward!.name}:${forward!.port}`, target, error: why },
      `local target ${target} refused a connection (${why})`,
    );
  }
  socket.once('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
  socket.once('connect', () => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    ignoreExpectedErrors(socket, `local target ${target}`, opts.log); // ends the splice through 'close'
    let channel: Duplex;
    try {
      channel = accept();
    } catch {
      socket.destroy();
      return;
    }
    splice(channel, socket, () => {});
  });
}
