/**
 * The commander program: `burrow relay …`, `burrow agent …`, help and version. Loaded by main.ts
 * for every command except otssh and shim, which parse their own command lines.
 */
import { Command, CommanderError } from 'commander';
import { isBurrowError } from '../core/errors.js';
import { registerAgentCommand } from './agent-command.js';
import { registerCompletionCommand } from './completion.js';
import { registerCoordinatorCommand } from './coordinator-command.js';
import { registerKeysCommand } from './keys-command.js';
import { registerLsCommand } from './ls-command.js';
import { registerManCommand } from './manpage.js';
import { registerRelayCommand } from './relay-command.js';
import { registerServeCommand } from './serve-command.js';
import { VERSION } from './version.js';

/** Exit status for bad flags or config, as most Unix tools use. */
const EXIT_USAGE = 2;

export function buildProgram(): Command {
  const program = new Command('burrow')
    .description(
      'Reach machines with no public address (NAT, containers, bastions) with plain OpenSSH, ' +
        'and keep those paths alive through relay reboots, network drops and roaming.',
    )
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    // Options after a subcommand name belong to it (`agent status --name x` is status's --name).
    .enablePositionalOptions()
    .exitOverride();
  registerServeCommand(program);
  registerRelayCommand(program);
  registerCoordinatorCommand(program);
  registerAgentCommand(program);
  registerLsCommand(program);
  registerKeysCommand(program);
  program.command('otssh').summary('one-time audited SSH server (also `otssh` once installed)');
  program
    .command('shim')
    .summary('rsync, scp and remote commands that survive a broken SSH connection');
  registerCompletionCommand(program);
  registerManCommand(program);
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const c of all(program)) c.exitOverride().showHelpAfterError();
  return program;
}

export async function runProgram(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed the message (or the help/version text).
      process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE);
    }
    if (isBurrowError(err)) {
      process.stderr.write(`burrow: ${err.message}\n`);
      process.exit(err.code === 'CONFIG_INVALID' || err.code === 'KEY_INVALID' ? EXIT_USAGE : 1);
    }
    process.stderr.write(`burrow: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  }
}
