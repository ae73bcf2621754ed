/**
 * A world for shim tests and benchmarks: relays, the device's sshd registered by `burrow agent`,
 * and an operator ssh config in which `dev1` is reached through a relay, optionally through a
 * TCP proxy that can cut connections. `burrow shim` runs with BURROW_SHIM_SSH pointing at that
 * config and BURROW_SHIM_REMOTE at this checkout's CLI (with its own data dir on the "remote").
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Fleet, startFleet } from './fleet.js';
import { type ProcOptions, startProc } from './proc.js';
import { startProxy, type TcpProxy } from './proxy.js';
import { CLI_PATH } from './relay.js';
import { type RunOptions, type RunResult, runCommand } from './run.js';
import type { Scope } from './scope.js';
import { waitFor } from './wait.js';

export interface ShimWorld {
  readonly fleet: Fleet;
  /** Between the operator and relay1, when `proxy: true`. */
  readonly proxy: TcpProxy | undefined;
  /** `ssh` wrapper using the operator's config: what BURROW_SHIM_SSH points at. */
  readonly ssh: string;
  /** Data dir of the "remote" side (where holders keep their sockets). */
  readonly remoteDataDir: string;
  /** Environment for running `burrow shim`, rsync or scp locally. */
  readonly env: Record<string, string>;
  /** Runs `node CLI shim …args`. */
  shim(args: string[], opts?: RunOptions): Promise<RunResult>;
  /** The `-e`/`-S` program for rsync and scp. */
  readonly shimCommand: string;
}

export async function startShimWorld(
  scope: Scope,
  opts: { relays?: number; proxy?: boolean; agentArgs?: string[] } = {},
): Promise<ShimWorld> {
  const fleet = await startFleet(scope, { relays: opts.relays ?? 1 });
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
  const remoteDataDir = join(fleet.dir, 'remote-data');
  const env = {
    BURROW_SHIM_SSH: ssh,
    BURROW_SHIM_REMOTE: `BURROW_DATA_DIR=${remoteDataDir} ${process.execPath} ${CLI_PATH} shim --serve`,
  };
  const shimScript = join(fleet.dir, 'burrow-shim');
  writeFileSync(
    shimScript,
    `#!/bin/sh\nexport BURROW_SHIM_SSH='${env.BURROW_SHIM_SSH}'\nexport BURROW_SHIM_REMOTE='${env.BURROW_SHIM_REMOTE}'\nexec ${process.execPath} ${CLI_PATH} shim "$@"\n`,
  );
  chmodSync(shimScript, 0o755);
  return {
    fleet,
    proxy,
    ssh,
    remoteDataDir,
    env,
    shimCommand: shimScript,
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
