/**
 * The clock of the start-up measurement: a named pipe that a hook script writes one byte to, and
 * the moment (performance.now()) each byte reaches the bench. The pipe is opened read-write and
 * non-blocking, so a writer's open never waits and the pipe never reports EOF between writers;
 * the bytes arrive through the event loop (epoll), not through the thread pool.
 */
import { execFile } from 'node:child_process';
import { chmodSync, constants, openSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describeExit, type Proc } from '../../test/helpers/index.js';

const run = promisify(execFile);

export interface MarkerWait {
  /** What the byte means, as it should read in a timeout message. */
  what: string;
  /** Default 10 000 ms. */
  timeoutMs?: number;
  /** Reject as soon as this process exits without the byte having come. */
  proc?: Proc;
}

/** Rejection of Marker.next() when `proc` exited first; its output is in `proc`. */
export class ExitedFirstError extends Error {
  override name = 'ExitedFirstError';
}

export class Marker {
  /** Arrival times of bytes not yet taken by next(), oldest first. */
  private readonly arrivals: number[] = [];
  private wake: (() => void) | undefined;

  private constructor(
    readonly path: string,
    /** An executable that writes one byte to the pipe and exits 0: the cheapest announce hook. */
    readonly hook: string,
    private readonly socket: Socket,
  ) {
    socket.on('data', (chunk: Buffer) => {
      const at = performance.now();
      for (let i = 0; i < chunk.length; i++) this.arrivals.push(at);
      this.wake?.();
    });
  }

  /** Makes `dir/marker` (a FIFO) and `dir/hook` (a `/bin/sh` script writing to it). */
  static async create(dir: string): Promise<Marker> {
    const path = join(dir, 'marker');
    await run('mkfifo', ['-m', '0600', path]);
    const hook = join(dir, 'hook');
    // printf is a builtin of /bin/sh: the hook is one exec of the shell and one write.
    writeFileSync(hook, `#!/bin/sh\nprintf x >'${path}'\n`);
    chmodSync(hook, 0o755);
    const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
    return new Marker(path, hook, new Socket({ fd, readable: true, writable: false }));
  }

  /** Forgets bytes that arrived but were not waited for (a late hook of an earlier round). */
  drain(): void {
    this.arrivals.length = 0;
  }

  /**
   * Resolves with the arrival time of the next byte (one already queued, or the next to come).
   * Rejects with ExitedFirstError when `proc` exits first, or after `timeoutMs`.
   */
  next(opts: MarkerWait): Promise<number> {
    const { what, timeoutMs = 10_000, proc } = opts;
    return new Promise((resolve, reject) => {
      const done = (settle: () => void): void => {
        clearTimeout(timer);
        this.wake = undefined;
        settle();
      };
      const check = (): void => {
        const at = this.arrivals.shift();
        if (at !== undefined) done(() => resolve(at));
      };
      const timer = setTimeout(() => {
        const tail = proc ? `\n${proc.tail()}` : '';
        done(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}${tail}`)));
      }, timeoutMs);
      this.wake = check;
      void proc?.stopped().then((exit) => {
        if (this.wake !== check) return;
        // A byte written just before the exit may still be in the pipe: take it if it is there.
        check();
        if (this.wake !== check) return;
        done(() =>
          reject(
            new ExitedFirstError(
              `${proc.name} exited (${describeExit(exit)}) before ${what}\n${proc.tail()}`,
            ),
          ),
        );
      });
      check();
    });
  }

  /** Closes the pipe's descriptor. Idempotent. */
  close(): void {
    this.socket.destroy();
  }
}
