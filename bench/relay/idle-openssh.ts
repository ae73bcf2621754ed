/**
 * For comparison: memory per idle device on an OpenSSH reverse jumphost. N real `ssh -N -R
 * /…/dN.sock:…` processes hold one connection each to a fresh jumphost sshd; the sshd's whole
 * process tree is summed (RSS, and PSS, which splits shared pages fairly between processes).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  createSshClient,
  type KeyPair,
  type Proc,
  type Scope,
  startSshd,
  waitFor,
} from '../../test/helpers/index.js';
import { treeMemory } from '../lib/procfs.js';
import { median } from '../lib/stats.js';

export interface OpensshIdleResult {
  devices: number;
  rssBeforeKiB: number;
  pssBeforeKiB: number;
  rssAfterKiB: number;
  pssAfterKiB: number;
  processesPerDevice: number;
  rssKiBPerDevice: number;
  pssKiBPerDevice: number;
}

const BATCH = 10;

export async function measureOpensshIdle(
  scope: Scope,
  dir: string,
  opts: { devices: number; deviceKey: KeyPair; log: (msg: string) => void },
): Promise<OpensshIdleResult> {
  const { devices, log } = opts;
  const jump = await startSshd(scope, {
    name: 'jump-idle-sshd',
    authorizedKeys: [opts.deviceKey],
    extraConfig: ['AllowStreamLocalForwarding yes', 'StreamLocalBindUnlink yes', 'LogLevel INFO'],
  });
  const ssh = await createSshClient(scope, { identity: opts.deviceKey });
  ssh.addHost({ alias: 'jump', port: jump.port, user: 'root', hostKey: jump.hostKeyPub });
  await sleep(500);
  const before = treeMemory(jump.proc.pid);

  const procs: Proc[] = [];
  const sock = (i: number) => join(dir, `d${i}.sock`);
  try {
    for (let start = 0; start < devices; start += BATCH) {
      const batch: number[] = [];
      for (let i = start; i < Math.min(devices, start + BATCH); i++) {
        batch.push(i);
        procs.push(
          // The forward's target is only dialed when a client connects, which never happens here.
          ssh.spawn(['-N', '-R', `${sock(i)}:127.0.0.1:9`, 'jump'], {
            name: `idle ssh d${i}`,
            maxLines: 50,
          }),
        );
      }
      await waitFor(
        () => {
          for (const p of procs) if (p.exit) throw new Error(`${p.name} exited:\n${p.tail()}`);
          return batch.every((i) => existsSync(sock(i)));
        },
        {
          what: `OpenSSH jumphost tunnels d${start}…d${start + batch.length - 1}`,
          timeoutMs: 30_000,
        },
      );
    }
    log(`idle (OpenSSH): ${devices} ssh -N -R tunnels up`);
    await sleep(2000);
    const samples = [];
    for (let i = 0; i < 3; i++) {
      samples.push(treeMemory(jump.proc.pid));
      await sleep(1000);
    }
    const rss = median(samples.map((s) => s.rssKiB));
    const pss = median(samples.map((s) => s.pssKiB));
    const processes = median(samples.map((s) => s.processes));
    return {
      devices,
      rssBeforeKiB: before.rssKiB,
      pssBeforeKiB: before.pssKiB,
      rssAfterKiB: rss,
      pssAfterKiB: pss,
      processesPerDevice: (processes - before.processes) / devices,
      rssKiBPerDevice: (rss - before.rssKiB) / devices,
      pssKiBPerDevice: (pss - before.pssKiB) / devices,
    };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await jump.stop();
  }
}
