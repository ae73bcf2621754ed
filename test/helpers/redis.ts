/**
 * A real redis-server on 127.0.0.1, in a temp dir, with no persistence: started on a free port,
 * ready once it answers PING, stopped by the Scope. `restart()` brings it back on the same port,
 * empty (as a Redis that lost its data); `stop()` leaves it down until `restart()`.
 */
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { freePort, onFreePort } from './ports.js';
import { type Proc, startProc } from './proc.js';
import type { Scope } from './scope.js';
import { tmpDir } from './tmp.js';
import { waitFor } from './wait.js';

export const REDIS_SERVER = 'redis-server';

export interface RedisServer {
  url: string;
  port: number;
  dir: string;
  /** Runs redis-cli against it; resolves with stdout (trimmed). */
  cli(...args: string[]): string;
  /** Stops it (SHUTDOWN NOSAVE: nothing is kept). Idempotent. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>;
  proc(): Proc;
}

export interface RedisOptions {
  /** Extra `redis-server` arguments (`--requirepass x`...). */
  args?: string[];
  name?: string;
}

export async function startRedis(scope: Scope, opts: RedisOptions = {}): Promise<RedisServer> {
  const dir = await tmpDir(scope, 'burrow-redis-');
  const name = opts.name ?? 'redis';
  let port = 0;
  let current: Proc | undefined;

  const cli = (...args: string[]): string => {
    const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    if (r.error) throw new Error(`redis-cli: ${r.error.message}`);
    if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };

  const launch = async (): Promise<boolean> => {
    const proc = startProc(
      scope,
      REDIS_SERVER,
      [
        ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        ...['--dir', dir, '--logfile', '', '--daemonize', 'no'],
        ...(opts.args ?? []),
      ],
      { name: `${name}:${port}`, stdin: 'ignore', stopSignal: 'SIGINT' },
    );
    current = proc;
    const exited = proc.stopped().then(() => false);
    const ready = waitFor(
      () => {
        // The answer alone could come from another test file's redis-server on this port (taken
        // after freePort() let it go); the log line says this one is listening.
        if (!proc.output().includes('Ready to accept connections')) return false;
        const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'PING'], {
          encoding: 'utf8',
          timeout: 2000,
        });
        return r.stdout.includes('PONG') || r.stdout.includes('NOAUTH');
      },
      { what: `${name} on 127.0.0.1:${port} to answer PING` },
    );
    const up = await Promise.race([ready, exited]);
    if (!up) {
      if (/address already in use/i.test(proc.output())) return false;
      throw new Error(`redis-server exited during startup:\n${proc.output()}`);
    }
    return true;
  };

  await onFreePort(async (p) => {
    port = p;
    if (!(await launch()))
      throw new Error(`redis-server: address already in use on 127.0.0.1:${p}`);
  });
  await writeFile(join(dir, 'port'), String(port));

  const stop = async (): Promise<void> => {
    const proc = current;
    if (!proc || proc.exit) return;
    spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'SHUTDOWN', 'NOSAVE'], {
      timeout: 5000,
    });
    await proc.stop();
  };

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    cli,
    stop,
    async restart() {
      await stop();
      if (!(await launch())) throw new Error(`redis-server: port ${port} was taken meanwhile`);
    },
    proc: () => current as Proc,
  };
}

/**
 * A redis sentinel (`redis-server CONF --sentinel`) watching `master` as MASTERNAME, on a free
 * port, ready once it reports the master's address. Stopped by the Scope.
 */
export async function startSentinel(
  scope: Scope,
  master: RedisServer,
  masterName: string,
): Promise<{ port: number; url: string }> {
  const dir = await tmpDir(scope, 'burrow-sentinel-');
  const port = await freePort();
  const conf = join(dir, 'sentinel.conf');
  await writeFile(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      'logfile ""',
      `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 1`,
      '',
    ].join('\n'),
  );
  startProc(scope, REDIS_SERVER, [conf, '--sentinel'], {
    name: `sentinel:${port}`,
    stdin: 'ignore',
  });
  await waitFor(
    () => {
      const r = spawnSync(
        'redis-cli',
        ['-h', '127.0.0.1', '-p', String(port), 'SENTINEL', 'get-master-addr-by-name', masterName],
        { encoding: 'utf8', timeout: 2000 },
      );
      return r.stdout.includes(String(master.port));
    },
    { what: `sentinel on 127.0.0.1:${port} to know ${masterName}` },
  );
  return { port, url: `redis-sentinel://127.0.0.1:${port}/${masterName}` };
}
