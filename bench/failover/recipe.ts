/**
 * The OpenSSH recipe that `burrow agent` replaces, all on 127.0.0.1 and owned by one Scope:
 *
 * - two relays, each a real sshd set up as a reverse jumphost (`GatewayPorts no`,
 *   `AllowTcpForwarding yes`, `ClientAliveInterval 10`, `ClientAliveCountMax 3`), each with its own
 *   loopback port for the device's tunnel (both relays share this machine's loopback);
 * - on the device, `autossh -M 0 -N -o ServerAliveInterval=10 -o ServerAliveCountMax=3
 *   -o ExitOnForwardFailure=yes -R PORT:127.0.0.1:<device sshd> relayX` under a supervisor loop
 *   that restarts it 5 s after it exits (systemd `Restart=always` + `RestartSec=5`) and takes the
 *   next relay on each restart: the recipe's only failover;
 * - the operator: `ssh -J relayX -p PORT root@127.0.0.1 true`, the device's host key checked
 *   under `HostKeyAlias dev1`.
 *
 * Stock autossh restarts its ssh against the same relay forever when the connection fails (it
 * exits only when ssh exits 0 or is killed by a signal), so a supervisor around it would never
 * run. The supervised autossh therefore gets AUTOSSH_MAXSTART=1: it exits when its ssh exits,
 * handing the restart (and the choice of relay) to the supervisor. `stockAutossh()` starts the
 * unmodified form for the check that shows this.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  anyAlive,
  createSshClient,
  freePort,
  type KeyPair,
  members,
  type Proc,
  type RunResult,
  type Scope,
  SSHD_PATH,
  type SshClient,
  type Sshd,
  signalAll,
  startProc,
  startProxy,
  startSshd,
  type TcpProxy,
  waitFor,
  waitForPort,
} from '../../test/helpers/index.js';
import { ATTEMPT } from './probe.js';

/** The supervisor's restart delay, as systemd's `RestartSec=5`. */
export const RESTART_SEC = 5;
export const SERVER_ALIVE = { interval: 10, countMax: 3 } as const;

const RELAY_SSHD_CONFIG = [
  'GatewayPorts no',
  'AllowTcpForwarding yes',
  'ClientAliveInterval 10',
  'ClientAliveCountMax 3',
];

export interface RecipeRelay {
  /** `relayA`, `relayB`: the ssh alias on the device and for the operator's -J. */
  readonly alias: string;
  readonly sshd: Sshd;
  /** The listener now running (replaced by start()). */
  proc: Proc;
  /** The loopback port on this relay where the device's -R tunnel listens. */
  readonly forwardPort: number;
  /** In front of the relay for the device only, when the world was made with proxies. */
  readonly proxy: TcpProxy | undefined;
  /** kill -9 of the relay: its listener and every per-connection sshd process. */
  kill(): Promise<void>;
  /** Starts sshd again on the same port with the same host key and config. */
  start(): Promise<void>;
}

export interface Recipe {
  readonly relays: [RecipeRelay, RecipeRelay];
  /** The operator's client: relayA, relayB and `dev1-via-relayA`/`dev1-via-relayB`. */
  readonly op: SshClient;
  /** Starts the supervised autossh (first on relayA). */
  startSupervisor(): Proc;
  /** The relay the supervisor last started autossh for. */
  current(supervisor: Proc): RecipeRelay;
  /** `ssh -J <relay> -p <its forward port> root@127.0.0.1 true` (HostKeyAlias dev1), bounded. */
  reach(relay: RecipeRelay): Promise<RunResult>;
  /** Unmodified autossh (AUTOSSH_GATETIME=0 only) to `relay`, logging to `logPath`. */
  stockAutossh(relay: RecipeRelay, logPath: string): Proc;
  /** The other relay. */
  other(relay: RecipeRelay): RecipeRelay;
}

export interface RecipeOptions {
  dir: string;
  deviceKey: KeyPair;
  operatorKey: KeyPair;
  /** The device's sshd, which the tunnels lead to. */
  device: Sshd;
  /** Put a TCP proxy between the device and each relay (for blackholing). */
  proxies?: boolean;
}

export async function startRecipe(scope: Scope, opts: RecipeOptions): Promise<Recipe> {
  const { dir, deviceKey, operatorKey, device } = opts;
  const relays: RecipeRelay[] = [];
  for (const alias of ['relayA', 'relayB']) {
    const sshd = await startSshd(scope, {
      name: `recipe-${alias}`,
      authorizedKeys: [deviceKey, operatorKey],
      extraConfig: RELAY_SSHD_CONFIG,
    });
    const proxy = opts.proxies ? await startProxy(scope, sshd.port) : undefined;
    const relay: RecipeRelay = {
      alias,
      sshd,
      proc: sshd.proc,
      forwardPort: await freePort(),
      proxy,
      async kill() {
        const listener = relay.proc;
        const tree = members(listener.pid, listener.token);
        signalAll(listener.pid, tree, 'SIGKILL');
        await listener.stopped();
        await waitFor(
          () => {
            const rest = [...tree, ...members(listener.pid, listener.token)];
            if (!anyAlive(rest)) return true;
            signalAll(listener.pid, rest, 'SIGKILL');
            return false;
          },
          { what: `every process of ${alias}'s sshd to exit`, timeoutMs: 5000, intervalMs: 10 },
        );
      },
      async start() {
        relay.proc = startProc(scope, SSHD_PATH, ['-D', '-e', '-f', sshd.configPath], {
          name: `recipe-${alias}:${sshd.port}`,
          stdin: 'ignore',
          token: sshd.proc.token,
        });
        await waitForPort(sshd.port, {
          banner: /^SSH-2\.0-/,
          timeoutMs: 10_000,
          what: `${alias}'s sshd to answer again on ${sshd.port}`,
        });
      },
    };
    relays.push(relay);
  }
  const pair = relays as [RecipeRelay, RecipeRelay];

  // The device's ssh_config: each relay by alias, through its proxy when there is one.
  const deviceSsh = await createSshClient(scope, { identity: deviceKey });
  for (const r of pair) {
    deviceSsh.addHost({
      alias: r.alias,
      port: r.proxy?.port ?? r.sshd.port,
      user: 'root',
      hostKeyAlias: r.alias,
      hostKey: r.sshd.hostKeyPub,
    });
  }

  const op = await createSshClient(scope, {
    identity: operatorKey,
    connectTimeoutSec: ATTEMPT.connectTimeoutSec,
  });
  for (const r of pair) {
    op.addHost({ alias: r.alias, port: r.sshd.port, user: 'root', hostKey: r.sshd.hostKeyPub });
    op.addHost({
      alias: `dev1-via-${r.alias}`,
      hostName: '127.0.0.1',
      port: r.forwardPort,
      user: 'root',
      hostKeyAlias: 'dev1',
      proxyJump: r.alias,
    });
  }
  op.trust('dev1', device.hostKeyPub);

  const autosshArgs = (relay: string, port: string) =>
    [
      'autossh -M 0 -N',
      `-F ${deviceSsh.configPath}`,
      `-o ServerAliveInterval=${SERVER_ALIVE.interval}`,
      `-o ServerAliveCountMax=${SERVER_ALIVE.countMax}`,
      '-o ExitOnForwardFailure=yes',
      `-R ${port}:127.0.0.1:${device.port}`,
      relay,
    ].join(' ');
  const script = join(dir, 'recipe-supervisor.sh');
  writeFileSync(
    script,
    [
      '#!/bin/sh',
      '# systemd Restart=always + RestartSec=5 around autossh, taking the next relay on each restart.',
      'n=0',
      'while :; do',
      `  if [ $((n % 2)) -eq 0 ]; then relay=${pair[0].alias} port=${pair[0].forwardPort}; else relay=${pair[1].alias} port=${pair[1].forwardPort}; fi`,
      '  echo "supervisor: $(date +%s%3N) starting autossh to $relay" >&2',
      `  ${autosshArgs('"$relay"', '"$port"')}`,
      '  echo "supervisor: $(date +%s%3N) autossh exited $?; restarting in 5 s" >&2',
      `  sleep ${RESTART_SEC}`,
      '  n=$((n + 1))',
      'done',
      '',
    ].join('\n'),
    { mode: 0o700 },
  );

  return {
    relays: pair,
    op,
    startSupervisor: () =>
      startProc(scope, 'sh', [script], {
        name: 'recipe-supervisor',
        env: {
          AUTOSSH_GATETIME: '0',
          AUTOSSH_MAXSTART: '1',
          AUTOSSH_LOGFILE: join(dir, 'autossh-supervised.log'),
        },
      }),
    current(supervisor) {
      const starts = [...supervisor.output('stderr').matchAll(/starting autossh to (\S+)/g)];
      const alias = starts[starts.length - 1]?.[1];
      const relay = pair.find((r) => r.alias === alias);
      if (!relay) throw new Error(`the supervisor has not started autossh:\n${supervisor.tail()}`);
      return relay;
    },
    reach: (relay) => op.run([`dev1-via-${relay.alias}`, 'true'], { timeoutMs: ATTEMPT.timeoutMs }),
    stockAutossh: (relay, logPath) =>
      startProc(scope, 'sh', ['-c', autosshArgs(relay.alias, String(relay.forwardPort))], {
        name: 'stock-autossh',
        env: { AUTOSSH_GATETIME: '0', AUTOSSH_LOGFILE: logPath },
      }),
    other: (relay) => (relay === pair[0] ? pair[1] : pair[0]),
  };
}
