import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Command } from './frames.js';

/** The holder's command: a shell command line, or the sftp subsystem. */

/** Where to find sftp-server for a `-s sftp` subsystem request (Debian, Fedora, BSD layouts). */
const SFTP_SERVERS = [
  '/usr/lib/openssh/sftp-server',
  '/usr/libexec/openssh/sftp-server',
  '/usr/libexec/sftp-server',
  '/usr/lib/ssh/sftp-server',
];

/** What the command runs with: the user's shell, environment and home. */
export interface CommandContext {
  readonly shell: string;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

/** Starts `command` on `stdio` (pipes Node makes, or fds); throws when it cannot be started. */
export function startCommand(
  command: Command,
  cfg: CommandContext,
  stdio: ['pipe', 'pipe', 'pipe'] | [number, number, number],
): ChildProcess {
  const opts: SpawnOptions = { cwd: cfg.cwd, env: cfg.env, stdio };
  if (command.kind === 'argv') {
    // As sshd does: the words joined by spaces, run by the user's shell. That shell is a child
    // of the login shell sshd ran for `burrow shim --serve`, which has read the user's startup
    // files already (its exports are in this environment): SHLVL says so, or bash would take
    // itself for sshd's (stdin a socket, SSH_CLIENT set) and read ~/.bashrc a second time.
    const level = Number.parseInt(cfg.env.SHLVL ?? '', 10);
    const env = { ...cfg.env, SHLVL: String(Number.isSafeInteger(level) && level > 0 ? level : 1) };
    return spawn(cfg.shell, ['-c', command.argv.join(' ')], { ...opts, env });
  }
  if (command.name !== 'sftp') throw new Error(`unknown subsystem "${command.name}"`);
  const server = SFTP_SERVERS.find((p) => existsSync(p));
  if (!server) throw new Error(`no sftp-server found (looked in ${SFTP_SERVERS.join(', ')})`);
  return spawn(server, [], opts);
}
