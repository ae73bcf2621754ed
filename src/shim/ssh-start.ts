import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import type { NativePump } from './native-pump.js';
import type { SshCommandLine } from './ssh-args.js';
import { SERVER_ALIVE_COUNT_MAX, SERVER_ALIVE_INTERVAL_S } from './timings.js';

/**
 * One run of the real ssh for the local side (local.ts). The CLI starts the first one as soon as
 * it has read the command line, before the rest of the local side loads, so ssh's connection (TCP,
 * key exchange, authentication) overlaps that loading instead of following it. A run keeps its
 * 'error' and 'close' for listeners attached later: by the time local.ts listens, a fast failing
 * ssh (a bad option, a missing program) may have ended already.
 */

export interface SshStart {
  readonly ssh: string;
  readonly line: SshCommandLine;
  /** The remote command that starts the serving end, e.g. `burrow shim --serve`. */
  readonly remote: string;
  /** The native byte path: ssh runs on its close-on-exec pipes, which `link` holds the shim's ends of. */
  readonly pump?: NativePump;
}

export interface SshRun {
  readonly child: ChildProcess;
  /** On the native path, the shim's ends of ssh's pipes; else child.stdin and child.stdout. */
  readonly link?: { readonly readFd: number; readonly writeFd: number };
  /** Each 'error' of the child; one that came before this call is passed on the next tick. */
  onError(cb: (err: Error) => void): void;
  /** The child's 'close' (exit code, null after a signal); passed on the next tick if it came. */
  onClose(cb: (code: number | null) => void): void;
}

export function startSsh(cfg: SshStart): SshRun {
  // ssh's stderr is child.stderr, for the shim to filter, unless -v asked for all of it.
  const stderrPiped = !cfg.line.verbose;
  let child: ChildProcess;
  let link: SshRun['link'];
  if (cfg.pump) {
    const [toSsh, writeFd] = cfg.pump.pipe();
    const [readFd, fromSsh] = cfg.pump.pipe();
    try {
      child = spawnSsh(cfg, [toSsh, fromSsh], stderrPiped);
    } finally {
      closeSync(toSsh);
      closeSync(fromSsh);
    }
    link = { readFd, writeFd };
  } else {
    child = spawnSsh(cfg, ['pipe', 'pipe'], stderrPiped);
  }
  const errors: Error[] = [];
  const errorCbs: ((err: Error) => void)[] = [];
  let closed: { code: number | null } | undefined;
  const closeCbs: ((code: number | null) => void)[] = [];
  child.on('error', (err) => {
    if (errors.length < 4) errors.push(err); // a spawn failure, then at most a failed kill or two
    for (const cb of errorCbs) cb(err);
  });
  child.on('close', (code) => {
    closed = { code };
    for (const cb of closeCbs) cb(code);
  });
  return {
    child,
    ...(link ? { link } : {}),
    onError(cb) {
      errorCbs.push(cb);
      for (const err of errors) process.nextTick(cb, err);
    },
    onClose(cb) {
      closeCbs.push(cb);
      if (closed) process.nextTick(cb, closed.code);
    },
  };
}

function spawnSsh(
  cfg: SshStart,
  stdio: ['pipe', 'pipe'] | [number, number],
  stderrPiped: boolean,
): ChildProcess {
  return spawn(cfg.ssh, sshArgs(cfg.line, cfg.remote), {
    stdio: [...stdio, stderrPiped ? 'pipe' : 'inherit'],
  });
}

/** The real ssh's arguments: the user's options, no pty, keepalives, our remote command. */
export function sshArgs(line: SshCommandLine, remote: string): string[] {
  const opts = line.options.filter((o) => o !== '--' && o !== '-s');
  const text = opts.join(' ');
  const alive = /ServerAlive/i.test(text)
    ? []
    : [
        '-o',
        `ServerAliveInterval=${SERVER_ALIVE_INTERVAL_S}`,
        '-o',
        `ServerAliveCountMax=${SERVER_ALIVE_COUNT_MAX}`,
      ];
  return [...opts, '-T', ...alive, '--', line.destination, remote];
}
