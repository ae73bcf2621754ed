import {
  DONE_NONCE,
  type ExitFrame,
  type Frame,
  type HelloFrame,
  type RefuseCode,
} from './frames.js';
import { secretMatches } from './session-dir.js';

/**
 * The remote holder as a pure state machine: events in (connections and their frames, the
 * command's exit, timers), commands out (welcome, refuse, attach, deliver, signal, wait, finish);
 * no sockets, processes or timers. The driver (holder.ts) serves the three kinds of connection —
 * the SSH channel handed over by the first --serve, a socket relayed by a later --serve, and a
 * later channel's pipes adopted through the socket — and turns each into the same events.
 *
 * Contract:
 * - Every connection must open with a hello carrying this session's id and secret; anything else
 *   is refused (`bad-secret`) or closed. A `new` hello after the session has started once is
 *   refused `session-exists`; when the command could not start, every hello is refused
 *   `spawn-failed` and the holder finishes (no reattach can change that).
 * - At most one connection is *current* (admitted and streaming); a newly admitted one replaces
 *   it, and only the current connection's frames are acted on.
 * - An adoption request is granted (the driver opens the pipes of that --serve) only with this
 *   session's id and secret and a running command; otherwise, or when the pipes cannot be had,
 *   the socket is relayed and its hello checked as any other.
 * - With no current connection, the resume window runs (from the start, and from each loss); when
 *   it passes, the command is ended and the holder finishes.
 * - The command's exit goes to the current connection (and to each one admitted later); once it
 *   exited, the local side's DONE ping finishes the holder.
 * - `finish` is the last command, exactly once; after it every event is ignored.
 */

export type ConnId = number;

export type HolderEvent =
  /** The socket is bound: the command may start (a second holder never gets this far). */
  | { readonly type: 'listening' }
  | { readonly type: 'spawn-failed'; readonly message: string }
  /** A frame read from a connection (its first one is its hello). */
  | { readonly type: 'frame'; readonly conn: ConnId; readonly frame: Frame }
  /** A connection's input could not be decoded, or the streams refused a frame of it. */
  | { readonly type: 'garbled'; readonly conn: ConnId }
  | { readonly type: 'lost'; readonly conn: ConnId }
  /** A --serve on socket connection `conn` asks the holder to read and write its own pipes. */
  | {
      readonly type: 'adoption';
      readonly conn: ConnId;
      readonly pid: number;
      readonly hello: HelloFrame;
    }
  /** The pipes of `conn`'s --serve are open as connection `channel`. */
  | { readonly type: 'adopted'; readonly conn: ConnId; readonly channel: ConnId }
  /** The pipes of `conn`'s --serve could not be opened. */
  | { readonly type: 'adoption-failed'; readonly conn: ConnId }
  | { readonly type: 'command-exited'; readonly frame: ExitFrame }
  | { readonly type: 'timer'; readonly timer: number }
  /** The socket could not be bound or failed. */
  | { readonly type: 'server-failed' };

export type HolderCommand =
  | { readonly type: 'start-command' }
  /** SIGTERM the command if it still runs; SIGKILL after the grace. */
  | { readonly type: 'end-command' }
  | { readonly type: 'signal-command'; readonly name: NodeJS.Signals }
  | { readonly type: 'wait'; readonly timer: number; readonly ms: number }
  | { readonly type: 'cancel'; readonly timer: number }
  /** Open the pipes of process `pid` (the --serve on `conn`) and answer ADOPTED. */
  | { readonly type: 'adopt'; readonly conn: ConnId; readonly pid: number }
  /** Answer RELAY on `conn` and serve the socket itself from now on. */
  | { readonly type: 'relay'; readonly conn: ConnId }
  /** The connection's hello was accepted: it is no longer bound by the handshake timeout. */
  | { readonly type: 'admitted'; readonly conn: ConnId }
  /** Write the welcome, with what the command has taken of stdin so far. */
  | { readonly type: 'welcome'; readonly conn: ConnId; readonly resumed: boolean }
  /** Stream through `conn`, resending stdout and stderr from what the local side has. */
  | { readonly type: 'attach'; readonly conn: ConnId; readonly received: Received }
  | { readonly type: 'detach' }
  | { readonly type: 'deliver'; readonly conn: ConnId; readonly frame: Frame }
  | { readonly type: 'send'; readonly conn: ConnId; readonly frame: Frame }
  /** End the connection with this refusal as its last frame. */
  | {
      readonly type: 'refuse';
      readonly conn: ConnId;
      readonly code: RefuseCode;
      readonly message: string;
    }
  | { readonly type: 'close'; readonly conn: ConnId }
  /**
   * Remove the socket and end. `soon`: after what is being written has had a turn of the event
   * loop to go out (the refusal that explains why).
   */
  | { readonly type: 'finish'; readonly soon: boolean };

/** The local side's received offsets for stdout (1) and stderr (2), when it resumes. */
export type Received = { readonly 1?: number; readonly 2?: number };

export interface HolderMachineConfig {
  readonly sessionId: Buffer;
  readonly secret: Buffer;
  readonly resumeWindowMs: number;
}

/** Signals the local side may pass on to the command (what a terminal or a supervisor sends). */
export const FORWARDED_SIGNALS: ReadonlySet<string> = new Set([
  'SIGINT',
  'SIGTERM',
  'SIGHUP',
  'SIGQUIT',
]);

type ConnState = 'admitted' | 'refused' | 'adopting';

export class HolderMachine {
  readonly #cfg: HolderMachineConfig;
  /** Connections past their first frame (or adoption request); absent: expecting a hello. */
  readonly #conns = new Map<ConnId, ConnState>();
  /** The hellos of adoption requests being served. */
  readonly #adoptions = new Map<ConnId, HelloFrame>();
  #done = false;
  #current: ConnId | undefined;
  #attachedOnce = false;
  #spawnError: string | undefined;
  #exit: ExitFrame | undefined;
  #window: number | undefined;
  #nextTimer = 1;

  constructor(cfg: HolderMachineConfig) {
    this.#cfg = cfg;
  }

  /** The connection streams go to now, if any. */
  get current(): ConnId | undefined {
    return this.#current;
  }

  step(event: HolderEvent): HolderCommand[] {
    if (this.#done) return [];
    switch (event.type) {
      case 'listening':
        return [{ type: 'start-command' }, this.#startWindow()];
      case 'spawn-failed':
        this.#spawnError = event.message;
        return [];
      case 'frame':
        return this.#frame(event.conn, event.frame);
      case 'garbled':
        return [{ type: 'close', conn: event.conn }];
      case 'lost':
        return this.#lost(event.conn);
      case 'adoption':
        return this.#adoption(event.conn, event.pid, event.hello);
      case 'adopted': {
        const hello = this.#adoptions.get(event.conn);
        if (!hello) return [{ type: 'close', conn: event.channel }];
        this.#adoptions.delete(event.conn);
        return this.#admit(event.channel, hello);
      }
      case 'adoption-failed': {
        const hello = this.#adoptions.get(event.conn);
        if (!hello) return [];
        this.#adoptions.delete(event.conn);
        this.#conns.delete(event.conn);
        return [{ type: 'relay', conn: event.conn }, ...this.#admit(event.conn, hello)];
      }
      case 'command-exited':
        this.#exit = event.frame;
        return this.#current === undefined
          ? []
          : [{ type: 'send', conn: this.#current, frame: event.frame }];
      case 'timer':
        if (event.timer !== this.#window) return [];
        this.#window = undefined;
        return [...(this.#exit ? [] : [{ type: 'end-command' } as const]), ...this.#finish(false)];
      case 'server-failed':
        return this.#finish(false);
    }
  }

  #frame(conn: ConnId, frame: Frame): HolderCommand[] {
    const state = this.#conns.get(conn);
    if (state === undefined) return this.#admit(conn, frame);
    if (state !== 'admitted' || conn !== this.#current) return [];
    switch (frame.type) {
      case 'signal':
        return FORWARDED_SIGNALS.has(frame.name)
          ? [{ type: 'signal-command', name: frame.name as NodeJS.Signals }]
          : [];
      case 'ping':
        if (frame.nonce === DONE_NONCE && this.#exit) return this.#finish(false);
        return [{ type: 'send', conn, frame: { type: 'pong', nonce: frame.nonce } }];
      default:
        return [{ type: 'deliver', conn, frame }];
    }
  }

  /** Checks a connection's hello; on success the connection becomes the current one. */
  #admit(conn: ConnId, hello: Frame): HolderCommand[] {
    if (hello.type !== 'hello') {
      this.#conns.set(conn, 'refused');
      return [{ type: 'close', conn }];
    }
    const refuse = (code: RefuseCode, message: string): HolderCommand[] => {
      this.#conns.set(conn, 'refused');
      return [{ type: 'refuse', conn, code, message }];
    };
    if (!this.#ours(hello)) return refuse('bad-secret', 'this session does not accept that secret');
    if (this.#spawnError !== undefined) {
      // Nothing to hold: no reattach can change that, so the holder ends with this refusal.
      return [
        ...refuse('spawn-failed', `cannot start the command: ${this.#spawnError}`),
        ...this.#finish(true),
      ];
    }
    if (hello.mode.kind === 'new' && this.#attachedOnce) {
      return refuse('session-exists', 'this session has started already');
    }
    this.#attachedOnce = true;
    const window = this.#window;
    this.#window = undefined;
    this.#conns.set(conn, 'admitted');
    const previous = this.#current;
    this.#current = conn;
    const received: Received =
      hello.mode.kind === 'resume'
        ? { 1: hello.mode.stdoutReceived, 2: hello.mode.stderrReceived }
        : {};
    return [
      { type: 'admitted', conn },
      ...(window === undefined ? [] : [{ type: 'cancel', timer: window } as const]),
      ...(previous === undefined ? [] : [{ type: 'close', conn: previous } as const]),
      { type: 'welcome', conn, resumed: hello.mode.kind === 'resume' },
      { type: 'attach', conn, received },
      ...(this.#exit ? [{ type: 'send', conn, frame: this.#exit } as const] : []),
    ];
  }

  #adoption(conn: ConnId, pid: number, hello: HelloFrame): HolderCommand[] {
    if (this.#conns.has(conn)) return [];
    if (!this.#ours(hello) || this.#spawnError !== undefined) {
      return [{ type: 'relay', conn }, ...this.#admit(conn, hello)];
    }
    this.#conns.set(conn, 'adopting');
    this.#adoptions.set(conn, hello);
    return [{ type: 'adopt', conn, pid }];
  }

  #lost(conn: ConnId): HolderCommand[] {
    this.#adoptions.delete(conn);
    if (this.#current !== conn) return [{ type: 'close', conn }];
    this.#current = undefined;
    return [{ type: 'close', conn }, { type: 'detach' }, this.#startWindow()];
  }

  #ours(hello: HelloFrame): boolean {
    return (
      hello.sessionId.equals(this.#cfg.sessionId) && secretMatches(hello.secret, this.#cfg.secret)
    );
  }

  #startWindow(): HolderCommand {
    this.#window = this.#nextTimer++;
    return { type: 'wait', timer: this.#window, ms: this.#cfg.resumeWindowMs };
  }

  #finish(soon: boolean): HolderCommand[] {
    this.#done = true;
    this.#window = undefined;
    const current = this.#current;
    this.#current = undefined;
    return [
      ...(current === undefined ? [] : [{ type: 'close', conn: current } as const]),
      { type: 'finish', soon },
    ];
  }
}
