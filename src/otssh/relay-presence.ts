import type { Duplex } from 'node:stream';
import { type BackoffPolicy, ReconnectSchedule } from '../core/backoff.js';
import { CodedError } from '../core/errors.js';
import {
  type IncomingChannel,
  RelayLink as Link,
  type RelayLink,
  type RelayLinkOptions,
} from '../ssh/client.js';

/**
 * otssh's name on a burrow relay, kept registered until its one session begins: when the relay
 * connection is lost before that (the relay restarted, the network dropped), it connects and
 * registers again, at once and then with backoff (full jitter, capped), as the agent does. The
 * first registration is not retried: a relay that cannot be reached or refuses the name at start
 * is a mistake to report, not to wait out.
 */

/** Why otssh could not register its name on the relay. */
export type RelayErrorCode = 'connect-failed' | 'register-refused' | 'lost-while-registering';

export class RelayError extends CodedError<RelayErrorCode> {
  override readonly name = 'RelayError';
}

export interface PresenceOptions {
  readonly link: RelayLinkOptions;
  readonly name: string;
  /** A client reached the name: `accept()` gives its stream. */
  readonly channel: (info: IncomingChannel, accept: () => Duplex) => void;
  /** One line for the operator: the relay was lost, or the name is registered again. */
  readonly notice: (line: string) => void;
  readonly backoff?: BackoffPolicy;
  readonly random?: () => number;
}

export interface RelayPresence {
  /** Stop being reachable: unregister the name and never register it again. The link stays. */
  withdraw(): void;
  /** Close the link and stop reconnecting. Idempotent. */
  close(): void;
}

export async function keepRegistered(opts: PresenceOptions): Promise<RelayPresence> {
  const where = `${opts.link.host}:${opts.link.port}`;
  let link: RelayLink | undefined;
  let withdrawn = false;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  // The agent's schedule, with one relay: a loss retries at once, each failure after it backs off.
  const schedule = new ReconnectSchedule([where], opts.backoff, opts.random);

  /** Connects and registers; on success the new link is the current one. Throws RelayError. */
  const register = async () => {
    let next: RelayLink | undefined;
    next = await Link.connect(opts.link, {
      channel: (info, accept) => opts.channel(info, accept),
      drain: () => {},
      lost: (reason) => onLost(next, reason),
    }).catch((err: Error) => {
      throw new RelayError('connect-failed', err.message);
    });
    const reg = await next.register(opts.name, 22);
    if (!reg.ok) {
      next.close();
      throw new RelayError(
        'register-refused',
        `the relay refused to register ${opts.name}:22 (${reg.reason})`,
      );
    }
    if (closed || withdrawn) return void next.close();
    // Lost while registering: not current yet, so onLost let it pass.
    if (next.isLost)
      throw new RelayError('lost-while-registering', 'the connection was lost while registering');
    link = next;
  };

  /** After a loss or a failed attempt: the next attempt, when the schedule says. */
  const again = () => {
    retry = setTimeout(() => {
      retry = undefined;
      if (closed || withdrawn) return;
      register().then(() => {
        schedule.succeeded();
        if (link) opts.notice(`registered ${opts.name} on ${where} again`);
      }, again);
    }, schedule.failed().delayMs);
  };

  const onLost = (which: RelayLink | undefined, reason: string) => {
    if (which === undefined || which !== link) return; // not (yet) the current link
    link = undefined;
    if (closed || withdrawn) return;
    opts.notice(`lost the relay ${where} (${reason}); registering ${opts.name} again`);
    again();
  };

  await register();
  return {
    withdraw() {
      if (withdrawn) return;
      withdrawn = true;
      clearTimeout(retry);
      if (link) void link.unregister(opts.name, 22);
    },
    close() {
      closed = true;
      clearTimeout(retry);
      link?.close();
      link = undefined;
    },
  };
}
