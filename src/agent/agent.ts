import type { Logger } from 'pino';
import { type BackoffPolicy, relayOrder } from '../core/backoff.js';
import { isPermanentRefusal, type RegisterFailure } from '../core/refusals.js';
import { type HostKeyCheck, LinkError, type LinkErrorCode, RelayLink } from '../ssh/client.js';
import {
  type AgentCommand,
  type AgentEvent,
  AgentMachine,
  type AgentSnapshot,
  type AttemptError,
  type LinkId,
} from './machine.js';
import type { PlacementAnswer } from './placement.js';
import { type Dial, defaultDial, type Forward, serveChannel } from './serve.js';

export interface RelayAddress {
  /** `host:port` as configured; the relay's identity in logs and status. */
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

export interface AgentConfig {
  /** `--relay`: rotated over, or with `deps.place` used when the coordinator gives no answer. */
  readonly relays: readonly RelayAddress[];
  readonly forwards: readonly Forward[];
  /** Private key text of the device. Never logged. */
  readonly privateKey: string;
  /** SSH user name sent to relays (they ignore it; the key decides). */
  readonly username: string;
  readonly keepaliveIntervalMs: number;
  readonly keepaliveCountMax: number;
  readonly connectTimeoutMs: number;
  readonly backoff: BackoffPolicy;
  /** How long a link that is leaving (after a move) may keep serving open channels. */
  readonly leaveTimeoutMs: number;
  readonly dialTimeoutMs: number;
}

export interface AgentDeps {
  readonly log: Logger;
  readonly verifyHostKey: (relay: RelayAddress, keyBlob: Buffer) => HostKeyCheck;
  /** Called after every event with the new state (status file, tests). */
  readonly onState?: (snapshot: AgentSnapshot) => void;
  /** The agent has stopped for good: 0 after stop(), 2 for a refusal retrying cannot fix. */
  readonly onExit: (code: number, message: string) => void;
  readonly dial?: Dial;
  /**
   * Asks the coordinator where to go (`--coordinator`), avoiding `avoid` (an address) if it can.
   * Must settle within its own timeout, never throw.
   */
  readonly place?: (avoid?: string) => Promise<PlacementAnswer>;
  readonly random?: () => number;
  readonly now?: () => number;
}

export interface Agent {
  status(): AgentSnapshot;
  /** Closes every link and stops retrying. Idempotent. */
  close(): void;
}

/**
 * Runs the supervisor: performs the machine's commands (connect, register, leave, wait) and
 * feeds back what happened. Shutdown: close() → stop event → every link closed at once.
 */
export function startAgent(config: AgentConfig, deps: AgentDeps): Agent {
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const dial = deps.dial ?? defaultDial;
  const log = deps.log.child({ component: 'agent' });
  const byId = new Map(config.relays.map((r) => [r.id, r]));
  const machine = new AgentMachine(
    relayOrder(
      config.relays.map((r) => r.id),
      random,
    ),
    config.backoff,
    random,
    { placement: deps.place !== undefined },
  );
  const links = new Map<LinkId, RelayLink>();
  const timers = new Set<NodeJS.Timeout>();
  let previous = machine.snapshot();
  let exited = false;

  const dispatch = (event: AgentEvent) => {
    const commands = machine.step(event, now());
    const snap = machine.snapshot();
    deps.onState?.(snap);
    logTransition(log, previous, snap, event, byId.size);
    previous = snap;
    for (const c of commands) perform(c);
  };

  const perform = (c: AgentCommand) => {
    switch (c.type) {
      case 'connect':
        void attempt(c.link, byId.get(c.relay)!);
        return;
      case 'place':
        void placement(c.request, c.avoid);
        return;
      case 'leave':
        void leave(c.link);
        return;
      case 'close':
        links.get(c.link)?.close();
        links.delete(c.link);
        return;
      case 'wait': {
        const t = setTimeout(() => {
          timers.delete(t);
          dispatch({ type: 'timer', timer: c.timer });
        }, c.ms);
        timers.add(t);
        return;
      }
      case 'exit':
        if (exited) return;
        exited = true;
        for (const t of timers) clearTimeout(t);
        for (const l of links.values()) l.close();
        links.clear();
        deps.onExit(c.code, c.message);
    }
  };

  const attempt = async (id: LinkId, relay: RelayAddress) => {
    let link: RelayLink;
    try {
      link = await RelayLink.connect(
        {
          host: relay.host,
          port: relay.port,
          username: config.username,
          privateKey: config.privateKey,
          verifyHostKey: (blob) => deps.verifyHostKey(relay, blob),
          keepaliveIntervalMs: config.keepaliveIntervalMs,
          keepaliveCountMax: config.keepaliveCountMax,
          connectTimeoutMs: config.connectTimeoutMs,
        },
        {
          channel: (info, accept, reject) =>
            serveChannel(info, accept, reject, config.forwards, {
              dial,
              dialTimeoutMs: config.dialTimeoutMs,
              log,
            }),
          drain: () => dispatch({ type: 'drain', link: id }),
          lost: (reason) => {
            links.delete(id);
            dispatch({ type: 'lost', link: id, reason });
          },
        },
      );
    } catch (err) {
      dispatch({ type: 'attempt-failed', link: id, error: linkFailure(relay, err) });
      return;
    }
    if (exited) return link.close();
    links.set(id, link);
    // Bounded like the connection itself: a relay that answers keepalives but never answers a
    // registration (a stuck registry) must not hold the agent forever.
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), config.connectTimeoutMs);
    });
    const results = await Promise.race([
      Promise.all(
        config.forwards.map((f) => link.register(f.name, f.port).then((r) => ({ f, r }))),
      ),
      timedOut,
    ]);
    clearTimeout(timer);
    if (!results) {
      links.delete(id);
      link.close();
      const message = `relay ${relay.id} did not answer the registration within ${config.connectTimeoutMs} ms`;
      dispatch({
        type: 'attempt-failed',
        link: id,
        error: { permanent: false, reason: 'registration-timeout', message },
      });
      return;
    }
    const refused = results.find((x) => !x.r.ok);
    if (refused && !refused.r.ok) {
      links.delete(id);
      link.close();
      const { f } = refused;
      const reason = refused.r.reason;
      dispatch({
        type: 'attempt-failed',
        link: id,
        error: {
          permanent: isPermanentRefusal(reason),
          reason,
          message: refusalMessage(relay, f, reason),
        },
      });
      return;
    }
    dispatch({ type: 'registered', link: id });
  };

  // Relays named by the coordinator join `byId`, so they are reached (and their host keys
  // checked) exactly like `--relay` entries.
  const placement = async (request: number, avoid: string | undefined) => {
    const answer = await deps.place!(avoid);
    if (exited) return;
    if ('error' in answer) {
      const fallback = config.relays.map((r) => r.id);
      log.warn(
        { error: answer.error, fallback },
        `coordinator: ${answer.error}; ${fallback.length > 0 ? 'using --relay' : 'asking again'}`,
      );
      dispatch({ type: 'placed', request, error: answer.error });
      return;
    }
    for (const r of answer.relays) if (!byId.has(r.id)) byId.set(r.id, r);
    log.debug({ relays: answer.relays.map((r) => r.id) }, 'coordinator answered');
    dispatch({ type: 'placed', request, relays: answer.relays.map((r) => r.id) });
  };

  const leave = async (id: LinkId) => {
    const link = links.get(id);
    if (!link) return;
    await Promise.all(config.forwards.map((f) => link.unregister(f.name, f.port)));
    const deadline = now() + config.leaveTimeoutMs;
    while (!link.isLost && link.openChannels > 0 && now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    links.delete(id);
    link.close();
  };

  queueMicrotask(() => dispatch({ type: 'start' }));
  return {
    status: () => machine.snapshot(),
    close: () => dispatch({ type: 'stop' }),
  };
}

function linkFailure(relay: RelayAddress, err: unknown): AttemptError {
  const code: LinkErrorCode = err instanceof LinkError ? err.code : 'protocol';
  const detail = (err as Error)?.message ?? String(err);
  switch (code) {
    case 'host-key':
      return { permanent: true, reason: 'host-key', message: detail };
    case 'auth':
      return {
        permanent: true,
        reason: 'key-rejected',
        message: `relay ${relay.id} refused this device's key: add its public key to the relay's authorized_keys with permitlisten for its name`,
      };
    default:
      return { permanent: false, reason: code, message: `relay ${relay.id}: ${detail}` };
  }
}

function refusalMessage(relay: RelayAddress, f: Forward, reason: RegisterFailure): string {
  const route = `${f.name}:${f.port}`;
  switch (reason) {
    case 'not-permitted':
      return `relay ${relay.id} does not permit this key to register ${route}: add permitlisten="${route}" to its line in the relay's authorized_keys`;
    case 'key-not-authorized':
      return `relay ${relay.id} no longer authorizes this key: check its line in the relay's authorized_keys`;
    case 'name-held':
      return `relay ${relay.id}: ${route} is registered by another key; retrying`;
    case 'relay-draining':
      return `relay ${relay.id} is shutting down; trying another`;
    default:
      return `relay ${relay.id} refused to register ${route} (${reason})`;
  }
}

/**
 * One log line per change of phase, relay or draining; nothing for events that change none.
 * `registered on` is logged only for a new registration, never for a relay that is draining.
 */
function logTransition(
  log: Logger,
  before: AgentSnapshot,
  after: AgentSnapshot,
  event: AgentEvent,
  relayCount: number,
): void {
  const changed =
    before.phase !== after.phase ||
    before.relay !== after.relay ||
    before.draining !== after.draining ||
    before.trying !== after.trying ||
    before.placing !== after.placing;
  if (!changed) return;
  const fields = {
    state: after.phase,
    event: event.type,
    ...(after.relay ? { relay: after.relay } : {}),
    ...(after.trying ? { trying: after.trying } : {}),
    reconnects: after.reconnects,
    ...(after.lastError && event.type !== 'registered' && event.type !== 'start'
      ? { error: after.lastError.reason }
      : {}),
  };
  switch (after.phase) {
    case 'connected':
      if (!after.draining) log.info(fields, `registered on ${after.relay}`);
      else if (relayCount < 2)
        log.warn(
          fields,
          `relay ${after.relay} is draining and there is no other relay; staying until it closes`,
        );
      else
        log.warn(
          fields,
          `relay ${after.relay} is draining; staying on it until ${after.trying ?? 'another relay'} answers`,
        );
      return;
    case 'moving':
      log.info(
        fields,
        `relay ${after.relay} is draining; moving to ${after.trying ?? 'another relay'}`,
      );
      return;
    case 'connecting':
      (event.type === 'start' ? log.info : log.warn).call(
        log,
        fields,
        `${after.placing ? 'asking the coordinator for a relay' : `connecting to ${after.trying}`}${after.lastError && event.type !== 'start' ? ` (${after.lastError.message})` : ''}`,
      );
      return;
    case 'waiting':
      log.warn(
        fields,
        `${after.lastError?.message ?? 'failed'}; ${after.placing ? 'asking the coordinator again' : `retrying ${after.trying}`} after backoff`,
      );
      return;
    default:
      log.info(fields, after.phase);
  }
}
