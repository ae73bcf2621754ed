/**
 * `burrow agent --coordinator` run in the test's (or benchmark's) own process by the agent's
 * library: `startAgent` with `askPlacement`, the code the CLI runs, for when as many agent
 * processes would not fit the machine. One name, one forward, no `--relay` list; host keys are
 * checked against a known_hosts file as the CLI checks them.
 */
import { pino } from 'pino';
import {
  type Agent,
  type AgentSnapshot,
  askPlacement,
  type HostKeyTrust,
  type PlacementAnswer,
  placementTimeoutMs,
  startAgent,
} from '../../src/agent/index.js';

const CONNECT_TIMEOUT_MS = 10_000;

const silent = pino({ level: 'silent' });

export interface PlacedAgentOptions {
  /** The name it registers, also its SSH user. */
  readonly name: string;
  /** Its OpenSSH private key, as text. */
  readonly privateKey: string;
  /** Where `NAME:22` forwards to, on 127.0.0.1. */
  readonly targetPort: number;
  /** The coordinator's base URL. */
  readonly coordinator: string;
  /** The relays' host key check (one may serve many agents). */
  readonly trust: HostKeyTrust;
  /** The cap of its reconnect backoff (the CLI's is 30 s). */
  readonly backoffCapMs: number;
  /** Called as it asks the coordinator where to go. */
  readonly onAsk?: () => void;
  /** Every placement answer, as it comes. */
  readonly onAnswer?: (answer: PlacementAnswer) => void;
  /** Called as a relay's host key is checked (its key exchange reply has arrived). */
  readonly onHostKey?: () => void;
  /** Every new state of its supervisor. */
  readonly onState?: (snapshot: AgentSnapshot) => void;
  readonly onExit: (code: number, message: string) => void;
}

/**
 * Starts one agent with the CLI's default keepalive (5 s, 2 missed) and connect timeout (10 s), so
 * that a loaded machine does not make a live relay look dead, and 5 s leave and dial timeouts;
 * the caller closes it.
 */
export function startPlacedAgent(o: PlacedAgentOptions): Agent {
  return startAgent(
    {
      relays: [],
      forwards: [{ name: o.name, port: 22, targetHost: '127.0.0.1', targetPort: o.targetPort }],
      privateKey: o.privateKey,
      username: o.name,
      keepaliveIntervalMs: 5000,
      keepaliveCountMax: 2,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      backoff: { baseMs: 500, capMs: o.backoffCapMs },
      leaveTimeoutMs: 5000,
      dialTimeoutMs: 5000,
    },
    {
      log: silent,
      verifyHostKey: (relay, blob) => {
        o.onHostKey?.();
        const d = o.trust.check(relay.host, relay.port, blob);
        return d.ok ? { ok: true } : { ok: false, message: d.message };
      },
      place: async (avoid) => {
        o.onAsk?.();
        // As the CLI bounds a question when it has no --relay list.
        const timeoutMs = placementTimeoutMs(0, CONNECT_TIMEOUT_MS);
        const answer = await askPlacement({ url: o.coordinator, name: o.name, timeoutMs }, avoid);
        o.onAnswer?.(answer);
        return answer;
      },
      ...(o.onState ? { onState: o.onState } : {}),
      onExit: o.onExit,
    },
  );
}
