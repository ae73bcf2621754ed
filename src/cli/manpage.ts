import type { Command } from 'commander';
import { ENV_PREFIX } from '../core/constants.js';
import { allCommands, type CommandNode, commandTree, type OptionNode } from './command-tree.js';
import { VERSION } from './version.js';

/**
 * `burrow man`: the roff man page burrow(1), generated from the commander tree (every command,
 * its description and options with their defaults and BURROW_* variables), plus the sections
 * that are not in the help: environment, files, exit status.
 *
 *   burrow man > /usr/local/share/man/man1/burrow.1
 */

/** Text safe in roff: backslashes and hyphens escaped, no line starting with a control character. */
export function roff(text: string): string {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .split('\n')
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join('\n');
}

/** A macro argument: roff-escaped, double quotes replaced, wrapped in double quotes. */
function arg(text: string): string {
  return `"${roff(text).replace(/"/g, '\\(dq')}"`;
}

/** Paragraphs (split on blank lines) as roff, separated by .PP. */
function paragraphs(text: string): string[] {
  return text
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter(Boolean)
    .flatMap((p, i) => (i === 0 ? [roff(p)] : ['.PP', roff(p)]));
}

function optionEntry(o: OptionNode): string[] {
  const names = o.flags.replace(/\s*[<[].*$/, '');
  const head = `.B ${roff(names)}${o.value ? ` \\fI${roff(o.value)}\\fR` : ''}`;
  const notes = [
    ...(o.choices ? [`one of: ${o.choices.join(', ')}`] : []),
    ...(o.default !== undefined ? [`default: ${o.default}`] : []),
    ...(o.env ? [`environment: ${o.env}`] : []),
  ];
  return [
    '.TP',
    head,
    roff(o.description),
    ...(notes.length ? ['.br', `(${roff(notes.join('; '))})`] : []),
  ];
}

function commandSection(node: CommandNode): string[] {
  const name = ['burrow', ...node.path].join(' ');
  const lines = [`.SS ${arg(`${name} ${node.usage}`.trim())}`];
  lines.push(...paragraphs(node.description || node.summary));
  for (const o of node.options) lines.push(...optionEntry(o));
  return lines;
}

export function manPage(program: Command): string {
  const root = commandTree(program);
  const commands = allCommands(root).slice(1);
  const envVars = new Map<string, string[]>();
  for (const node of commands) {
    for (const o of node.options) {
      if (!o.env || !o.long) continue;
      const users = envVars.get(o.env) ?? [];
      users.push(`burrow ${node.path.join(' ')} ${o.long}`);
      envVars.set(o.env, users);
    }
  }
  const lines = [
    `.TH BURROW 1 "" ${arg(`burrow ${VERSION}`)} "User Commands"`,
    '.nh',
    '.ad l',
    '.SH NAME',
    roff('burrow - reach machines with no public address with plain OpenSSH'),
    '.SH SYNOPSIS',
    ...commands
      .filter((c) => c.path.length === 1)
      .flatMap((c, i) => [
        ...(i > 0 ? ['.br'] : []),
        `.B burrow ${roff(c.path[0] ?? '')}`,
        roff(c.usage),
      ]),
    '.SH DESCRIPTION',
    ...paragraphs(root.description),
    '.PP',
    roff(
      'Each command is described below with its options. Every option of burrow relay and ' +
        'burrow agent can also be set in the environment as BURROW_<FLAG> (upper case, "-" ' +
        'as "_"); burrow agent also reads a --config file. The command line wins, then the ' +
        'environment, then the file.',
    ),
    '.SH OPTIONS',
    ...root.options.flatMap(optionEntry),
    '.SH COMMANDS',
    ...commands.flatMap(commandSection),
    '.SH ENVIRONMENT',
    '.TP',
    `.B ${ENV_PREFIX}DATA_DIR`,
    roff('Where burrow keeps its files (default: ~/.burrow).'),
    ...[...envVars].flatMap(([name, users]) => ['.TP', `.B ${roff(name)}`, roff(users.join(', '))]),
    '.SH FILES',
    '.TP',
    '.I ~/.burrow',
    roff(
      'The data directory (or $BURROW_DATA_DIR): relay_host_ed25519_key and authorized_keys ' +
        'of a relay, known_hosts and agent-NAME.json (status) of an agent.',
    ),
    '.SH EXIT STATUS',
    '.TP',
    '.B 0',
    'Success.',
    '.TP',
    '.B 1',
    roff('A failure at run time, such as a listen address in use.'),
    '.TP',
    '.B 2',
    roff(
      'A usage or configuration error, named on one line; for burrow agent also a refusal ' +
        'that retrying cannot fix (host key, key refused, name not permitted).',
    ),
    '.PP',
    roff(
      'burrow agent status exits 0 when registered, 1 when running but not registered, 3 when ' +
        "not running. burrow shim exits with the remote command's status, or 255 when the " +
        'session cannot be reached or resumed.',
    ),
    '.SH SEE ALSO',
    '.BR ssh (1),',
    '.BR sshd (8),',
    '.BR ssh\\-keygen (1)',
  ];
  return `${lines.join('\n')}\n`;
}

export function registerManCommand(program: Command): void {
  program
    .command('man')
    .summary('print the burrow(1) man page (roff)')
    .description(
      'Prints the burrow(1) man page, generated from the commands and options. Install: ' +
        'burrow man > /usr/local/share/man/man1/burrow.1',
    )
    .action(() => {
      process.stdout.write(manPage(program));
    });
}
