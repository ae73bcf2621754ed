/**
 * `burrow coordinator` as a process for integration tests, over a real redis-server.
 */
import { onFreePort } from './ports.js';
import type { Proc, ProcOptions } from './proc.js';
import { startCli } from './relay.js';
import type { Scope } from './scope.js';

export interface CoordinatorCli {
  readonly proc: Proc;
  readonly port: number;
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
}

/**
 * Starts `burrow coordinator --registry REDIS --listen 127.0.0.1:PORT` plus `flags` and
 * `--registry-ttl TTL` (default 3s, the TTL of the test relays), on `port` (a free one unless
 * given: give the same one to start it again where agents expect it), with `procOptions` for its
 * process; resolves once it says it is listening.
 */
export async function startCoordinatorCli(
  s: Scope,
  redis: { readonly url: string },
  opts: { port?: number; flags?: string[]; ttl?: string; procOptions?: ProcOptions } = {},
): Promise<CoordinatorCli> {
  const start = async (port: number) => {
    const proc = startCli(
      s,
      [
        'coordinator',
        ...['--registry', redis.url, '--listen', `127.0.0.1:${port}`],
        ...(opts.flags ?? []),
        ...['--registry-ttl', opts.ttl ?? '3s'],
      ],
      { name: 'coordinator', ...opts.procOptions },
    );
    await proc.waitForLine(/coordinator listening on/, { stream: 'stderr' });
    return proc;
  };
  // A port of its own: another one if a parallel test took it meanwhile; a given port as is.
  const { port, value: proc } =
    opts.port === undefined
      ? await onFreePort(start)
      : { port: opts.port, value: await start(opts.port) };
  return { proc, port, url: `http://127.0.0.1:${port}` };
}
