/**
 * A world for shim tests and benchmarks: relays, the device's sshd registered by `burrow agent`,
 * and an operator ssh config in which `dev1` is reached through a relay, optionally through a
 * TCP proxy that can cut connections. `burrow shim` runs with BURROW_SHIM_SSH pointing at that
 * config. The serving end on the "remote": by default BURROW_SHIM_REMOTE runs this checkout's CLI
 * with its own data dir; with `install`, the shim runs as installed (`burrow`, `burrow-shim` on
 * PATH) and the device's sessions find `burrow` on their PATH (sshd's SetEnv), as on a real device.
 */
import { chmodSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Fleet, startFleet } from './fleet.js';
import type { Install } from './install.js';
import { type ProcOptions, startProc } from './proc.js';
import { startProxy, type TcpProxy } from './proxy.js';
import { CLI_PATH } from './relay.js';
import { type RunOptions, type RunResult, runCommand } from './run.js';
import type { Scope } from './scope.js';
import { waitFor } from './wait.js';

/** sshd's PATH for root's sessions (OpenSSH's SUPERUSER_PATH); the device sshd runs them as root. */
const SSHD_DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface ShimWorld {
  readonly fleet: Fleet;
  /** Between the operator and relay1, when `proxy: true`. */
  readonly proxy: TcpProxy | undefined;
  /** `ssh` wrapper using the operator's config: what BURROW_SHIM_SSH points at. */
  readonly ssh: string;
  /** Data dir of the "remote" side (where holders keep their sockets). */
  readonly remoteDataDir: string;
  /**
   * Environment for running `burrow shim`, rsync or scp locally; with `install`, its PATH starts
   * with the install's bin dir, so `rsync -e burrow-shim` and `scp -S burrow-shim` run as written.
   */
  readonly env: Record<string, string>;
  /** Runs `burrow shim …args`: the installed command with `install`, else `node CLI shim …`. */
  shim(args: string[], opts?: RunOptions): Promise<RunResult>;
}

/**
 * Which byte path both ends of the shim take: the native one (BURROW_SHIM_NATIVE=require: a
 * failure to load it fails the test) or JavaScript's (BURROW_SHIM_NATIVE=0).
 */
export type BytePath = 'native' | 'javascript';

export async function startShimWorld(
  scope: Scope,
  opts: {
    relays?: number;
    proxy?: boolean;
    agentArgs?: string[];
    install?: Install;
    bytePath?: BytePath;
  } = {},
): Promise<ShimWorld> {
  const { install } = opts;
  const nativeValue = (opts.bytePath ?? 'native') === 'native' ? 'require' : '0';
  const native = `BURROW_SHIM_NATIVE=${nativeValue}`;
  // The device's non-interactive sessions: the install first, then node (for its #! line), then
  // sshd's usual PATH.
  const remotePath =
    install && [install.bin, dirname(process.execPath), SSHD_DEFAULT_PATH].join(':');
  const fleet = await startFleet(scope, {
    relays: opts.relays ?? 1,
    ...(remotePath ? { sshdConfig: [`SetEnv PATH=${remotePath} ${native}`] } : {}),
  });
  const relay1 = fleet.relays[0]!;
  const proxy = opts.proxy ? await startProxy(scope, relay1.port) : undefined;
  if (proxy) {
    fleet.op.addHost({
      alias: relay1.alias,
      port: proxy.port,
      user: 'burrow',
      hostKeyAlias: 'relay1-key',
    });
    fleet.op.trust('relay1-key', relay1.hostKey.publicKey);
  }
  const list = fleet.relays.map((r) => r.alias);
  const cfg = fleet.op.configPath;
  // dev1 through the first relay that holds it (a relay without the name fails fast).
  const proxyCommand = list.map((a) => `ssh -F ${cfg} -W dev1:22 ${a}`).join(' || ');
  fleet.op.addHost({
    alias: 'dev1',
    hostName: null,
    user: 'root',
    options: {
      ProxyCommand: `sh -c '${proxyCommand}'`,
      ServerAliveInterval: 2,
      ServerAliveCountMax: 2,
    },
  });
  const agent = fleet.startAgent(opts.agentArgs ?? []);
  await agent.waitForLine(/registered on/, { stream: 'stderr' });
  // Through whichever relay the agent chose (dev1's ProxyCommand tries each).
  await waitFor(
    async () => (await fleet.op.run(['dev1', 'true'], { timeoutMs: 10_000 })).code === 0,
    {
      what: 'dev1 reachable',
      timeoutMs: 20_000,
    },
  );

  const ssh = join(fleet.dir, 'op-ssh');
  writeFileSync(ssh, `#!/bin/sh\nexec ssh -F ${cfg} "$@"\n`);
  chmodSync(ssh, 0o755);
  if (install) {
    // burrow's defaults on the device: `burrow shim --serve` from PATH, data in ~/.burrow.
    const env = { BURROW_SHIM_SSH: ssh, PATH: install.path, BURROW_SHIM_NATIVE: nativeValue };
    return {
      fleet,
      proxy,
      ssh,
      remoteDataDir: join(fleet.sshd.dir, 'home', '.burrow'),
      env,
      shim: (args, o = {}) =>
        runCommand(scope, 'burrow', ['shim', ...args], {
          timeoutMs: 120_000,
          ...o,
          env: { ...env, ...o.env },
        }),
    };
  }
  const remoteDataDir = join(fleet.dir, 'remote-data');
  const env = {
    BURROW_SHIM_SSH: ssh,
    BURROW_SHIM_REMOTE: `${native} BURROW_DATA_DIR=${remoteDataDir} ${process.execPath} ${CLI_PATH} shim --serve`,
    BURROW_SHIM_NATIVE: nativeValue,
  };
  return {
    fleet,
    proxy,
    ssh,
    remoteDataDir,
    env,
    shim: (args, o = {}) =>
      runCommand(scope, process.execPath, [CLI_PATH, 'shim', ...args], {
        timeoutMs: 120_000,
        ...o,
        env: { ...env, ...o.env },
      }),
  };
}

export function startShimProc(
  world: ShimWorld,
  scope: Scope,
  args: string[],
  opts: ProcOptions = {},
) {
  return startProc(scope, process.execPath, [CLI_PATH, 'shim', ...args], {
    name: 'shim',
    ...opts,
    env: { ...world.env, ...opts.env },
  });
}

/**
 * What a transfer has written to `path` so far: its size, or that of rsync's temporary
 * `.name.XXXXXX` beside it (rsync renames it into place at the end); -1 when neither exists yet.
 */
export function bytesSoFar(path: string): number {
  const name = basename(path);
  let most = -1;
  for (const f of readdirSync(dirname(path))) {
    if (f !== name && !f.startsWith(`.${name}.`)) continue;
    try {
      most = Math.max(most, statSync(join(dirname(path), f)).size);
    } catch {
      // renamed or removed meanwhile
    }
  }
  return most;
}

/** Waits until the transfer to `path` has written at least `bytes`; resolves with how many. */
export function reachedSize(path: string, bytes: number, timeoutMs = 60_000): Promise<number> {
  return waitFor(
    () => {
      const n = bytesSoFar(path);
      return n >= bytes ? n : 0;
    },
    { what: `${bytes} bytes written to ${path}`, timeoutMs, intervalMs: 20 },
  );
}

/**
 * Cuts every connection through `proxy` each time the transfer to `path` has grown by `every`
 * bytes (first at `every`, last at `lastAt` or below), so each cut lands mid-transfer. `every`
 * must exceed the shim's window (16 MiB unacknowledged per stream): then growth by `every` after a
 * cut means the session resumed, and the next cut breaks a resumed connection. stop() ends the
 * cutting and resolves with the sizes at which it cut.
 */
export function cutAsItGrows(
  proxy: TcpProxy,
  path: string,
  every: number,
  lastAt: number,
): { stop(): Promise<number[]> } {
  const cutAt: number[] = [];
  let stopped = false;
  const cutting = (async () => {
    for (let at = every; at <= lastAt && !stopped; ) {
      const n = bytesSoFar(path);
      if (n >= at) {
        proxy.cutAll();
        cutAt.push(n);
        at = n + every;
      } else await sleep(20);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await cutting;
      return cutAt;
    },
  };
}

/** How many times the shim said it lost the connection and reconnected, in `stderr`. */
export function reconnects(stderr: string): number {
  return stderr.match(/connection lost; reconnecting/g)?.length ?? 0;
}
