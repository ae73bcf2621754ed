import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SessionInfo, Transcript } from '../audit/transcript.js';
import { CodedError } from '../core/errors.js';
import type { PolicyEntry } from '../core/policy/index.js';
import type { PolicySet } from '../core/policy-set.js';
import type { RelayLinkOptions } from '../ssh/client.js';
import type { AuthAttempt } from '../ssh/connection.js';
import type { HostKey } from '../ssh/keys.js';
import {
  type InteractiveHandler,
  InteractiveServer,
  type SessionControl,
  type SessionStart,
  type SessionStream,
} from '../ssh/session-server.js';
import { ignoreExpectedErrors } from '../streams/expected-errors.js';
import { envAllowed } from './env.js';
import { keepRegistered, type RelayPresence } from './relay-presence.js';
import { runProgram, usablePty } from './run.js';

/**
 * The one-time server after its keys, host key and transcript exist (cli/otssh-command.ts does
 * those steps and prints the host key): listen and/or register on a relay, hold connections until
 * `open()` (the announce command runs in between), serve exactly one authenticated session, then
 * stop. Connections whose authentication fails are closed and the server keeps accepting.
 */

export interface OtsshConfig {
  /** Listen here; omit to be reachable only through the relay. */
  readonly listen?: { readonly host: string; readonly port: number };
  /** Register `name:22` on a burrow relay over this link (again after a loss: relay-presence). */
  readonly relay?: { readonly link: RelayLinkOptions; readonly name: string };
  /** Lines for the operator about the relay (lost, registered again). */
  readonly notice?: (line: string) => void;
  readonly timeoutMs: number;
  readonly policy: PolicySet;
  readonly hostKey: HostKey;
  /** Program for the session: `shell -l`, or `shell -c command`. */
  readonly shell: string;
  /** The environment otssh was started with, copied. */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly maxAuthTries: number;
  readonly now?: () => number;
}

export type Outcome =
  | { readonly kind: 'session'; readonly code: number }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'dropped' }
  | { readonly kind: 'transcript-failed'; readonly error: Error };

export interface Otssh {
  /** Where it listens (undefined in relay-only mode). */
  readonly address: { readonly host: string; readonly port: number } | undefined;
  /** Starts serving the connections held so far and every later one. */
  open(): void;
  /** Settles once: the session ended, the timeout passed, or the session could not go on. */
  readonly outcome: Promise<Outcome>;
  /** The transcript cannot be written: end the session now (it must not run unrecorded). */
  transcriptFailed(error: Error): void;
  /** Stops everything now. Idempotent. */
  close(): void;
}

/** The server could not listen on its port. */
export class BindError extends CodedError<'bind-failed'> {
  override readonly name = 'BindError';
}
export { RelayError } from './relay-presence.js';

export async function startOtssh(config: OtsshConfig, transcript: Transcript): Promise<Otssh> {
  const now = config.now ?? Date.now;
  const ssh = new InteractiveServer(config.hostKey.privateKey);
  const held: { stream: Duplex; serve: () => void }[] = [];
  let program: ReturnType<typeof runProgram> | undefined;
  const live = new Set<Duplex>();
  let opened = false;
  let winner: object | undefined;
  let settle!: (o: Outcome) => void;
  const outcome = new Promise<Outcome>((resolve) => {
    settle = resolve;
  });
  let settled = false;
  const finish = (o: Outcome) => {
    if (settled) return;
    settled = true;
    settle(o);
  };

  const admit = (stream: Duplex, ip: string, port: number) => {
    if (winner || settled) {
      stream.destroy();
      return;
    }
    const serve = () => {
      live.add(stream);
      stream.once('close', () => live.delete(stream));
      ssh.accept(stream, connectionHandler(stream, ip, port));
    };
    if (opened) serve();
    else held.push({ stream, serve });
  };

  let server: Server | undefined;
  let address: Otssh['address'];
  if (config.listen) {
    const { host, port } = config.listen;
    server = createServer({ noDelay: true }, (socket: Socket) =>
      admit(socket, (socket.remoteAddress ?? '').replace(/^::ffff:/, ''), socket.remotePort ?? 0),
    );
    await new Promise<void>((resolve, reject) => {
      server!.once('error', (err: NodeJS.ErrnoException) =>
        reject(new BindError('bind-failed', `${host}:${port}: ${err.code ?? err.message}`)),
      );
      server!.listen(port, host, () => resolve());
    });
    ignoreExpectedErrors(server, 'the listening socket');
    const bound = server.address();
    address = { host, port: typeof bound === 'object' && bound ? bound.port : port };
  }

  let presence: RelayPresence | undefined;
  if (config.relay) {
    presence = await keepRegistered({
      ...config.relay,
      channel: (info, accept) => admit(accept(), info.originAddr, info.originPort),
      notice: config.notice ?? (() => {}),
    }).catch((err: Error) => {
      server?.close();
      throw err;
    });
  }

  const timer = setTimeout(() => finish({ kind: 'timeout' }), config.timeoutMs);

  /** Stop taking connections: the one session has begun (or everything is over). */
  const stopAccepting = () => {
    server?.close();
    presence?.withdraw();
    for (const h of held.splice(0)) h.stream.destroy();
  };

  function connectionHandler(stream: Duplex, ip: string, port: number): InteractiveHandler {
    const self = {};
    let failures = 0;
    let entry: PolicyEntry | undefined;
    let user = '';
    let sessions = 0;
    /** The program has exited: the connection closing now is the normal end. */
    let sessionOver = false;
    return {
      authenticate(a: AuthAttempt): boolean {
        if (winner && winner !== self) return false;
        const verdict =
          a.method === 'publickey' && a.keyBlob
            ? config.policy.authorize(a.keyBlob, ip, now())
            : undefined;
        if (!verdict?.ok) {
          if (a.method !== 'none' && ++failures >= config.maxAuthTries) stream.destroy();
          return false;
        }
        if (!a.signed) return true;
        if (winner || settled) return false;
        winner = self;
        entry = verdict.entry;
        user = a.username.slice(0, 64);
        return true;
      },
      ready() {
        if (winner !== self) return stream.destroy();
        clearTimeout(timer);
        stopAccepting();
        for (const other of live) if (other !== stream) other.destroy();
      },
      openSession: () => winner === self && ++sessions === 1,
      allowPty: () => entry?.pty ?? false,
      allowEnv: envAllowed,
      start(req: SessionStart, accept: () => SessionStream, control: SessionControl) {
        const channel = accept();
        const pty = req.pty ? usablePty(req.pty) : undefined;
        const command = entry?.command ?? req.command;
        const env: Record<string, string> = {
          ...config.env,
          ...req.env,
          SSH_CONNECTION: `${ip} ${port} ${address?.host ?? '0.0.0.0'} ${address?.port ?? 22}`,
          SSH_CLIENT: `${ip} ${port} ${address?.port ?? 22}`,
          ...(entry?.command !== undefined && req.command !== undefined
            ? { SSH_ORIGINAL_COMMAND: req.command }
            : {}),
        };
        const info: SessionInfo = {
          user,
          fingerprint: entry?.fingerprint ?? '?',
          client: `${ip}:${port}`,
          shell: config.shell,
          ...(command === undefined ? {} : { command }),
          ...(pty ? { pty } : {}),
        };
        transcript.start(info);
        const running = runProgram(
          {
            shell: config.shell,
            ...(command === undefined ? {} : { command }),
            env,
            cwd: config.cwd,
            ...(pty ? { pty } : {}),
          },
          channel,
          control,
          transcript,
        );
        program = running;
        void running.done.then((r) => {
          sessionOver = true;
          transcript.end(r.signal ? { signal: r.signal } : { code: r.code });
          if (transcript.failed) return;
          if (r.signal) channel.exit(r.signal, false, '');
          else channel.exit(r.code);
          // EOF after the last byte, then CLOSE: the client leaves once the channel is closed.
          channel.once('finish', () => channel.close());
          channel.end();
          // Done once the client has the exit status: it closes the connection after the
          // channel; one that does not is cut off after a grace period.
          const cut = setTimeout(() => stream.destroy(), 2000);
          stream.once('close', () => {
            clearTimeout(cut);
            finish({ kind: 'session', code: r.code });
          });
        });
      },
      closed() {
        if (winner === self && !settled && !sessionOver) {
          program?.kill();
          finish({ kind: 'dropped' });
        }
      },
    };
  }

  const otssh: Otssh = {
    address,
    open() {
      if (opened) return;
      opened = true;
      for (const h of held.splice(0)) h.serve();
    },
    outcome,
    transcriptFailed(error) {
      program?.kill();
      finish({ kind: 'transcript-failed', error });
      otssh.close();
    },
    close() {
      clearTimeout(timer);
      program?.kill();
      server?.close();
      presence?.close();
      for (const s of live) s.destroy();
      finish({ kind: 'dropped' });
    },
  };
  void outcome.then(() => clearTimeout(timer));
  return otssh;
}
