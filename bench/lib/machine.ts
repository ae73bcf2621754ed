/** A description of the machine a benchmark ran on, for reports and results files. */
import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  /** `ssh -V` output, e.g. `OpenSSH_9.2p1 Debian-2+deb12u10, OpenSSL 3.0.19 27 Jan 2026`. */
  openssh: string;
  /** 1-minute load average when the run started: the machine is shared. */
  loadAvg1: number;
}

export function machineInfo(): MachineInfo {
  let openssh = 'unknown';
  try {
    // ssh -V prints to stderr; execFileSync returns stdout, so merge through the shell.
    openssh = execFileSync('sh', ['-c', 'ssh -V 2>&1'], { encoding: 'utf8' }).trim();
  } catch {
    // reported as unknown
  }
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    openssh,
    loadAvg1: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}

/**
 * One line: `2 cores (Intel Xeon), 23.4 GiB RAM, Linux 6.1, Node v20.20.2, OpenSSH_9.2p1 …`.
 * The load average is left out (it differs per run; reports show it per run).
 */
export function describeMachine(m: MachineInfo): string {
  return (
    `${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB RAM, Linux ${m.kernel}, ` +
    `Node ${m.node}, ${m.openssh}`
  );
}
