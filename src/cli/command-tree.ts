import type { Command } from 'commander';

/**
 * The commander program as plain data, for what is generated from it (shell completion, the man
 * page): every visible command with its visible options, in help order, so nothing generated
 * can list a command or flag the program does not have.
 */

export interface OptionNode {
  /** `--listen <host:port>`, as help prints it. */
  readonly flags: string;
  readonly long?: string;
  readonly short?: string;
  /** `<host:port>` or `[value]`; empty for a boolean flag. */
  readonly value: string;
  readonly description: string;
  readonly choices?: readonly string[];
  readonly env?: string;
  readonly default?: string;
}

export interface CommandNode {
  /** Words after `burrow`: [] for the program itself, ['agent', 'status'] for a subcommand. */
  readonly path: readonly string[];
  /** `[options] <shell>`, as help prints it after the name. */
  readonly usage: string;
  readonly summary: string;
  readonly description: string;
  readonly options: readonly OptionNode[];
  readonly commands: readonly CommandNode[];
}

export function commandTree(cmd: Command, path: readonly string[] = []): CommandNode {
  const help = cmd.createHelp();
  const options = help.visibleOptions(cmd).map((o): OptionNode => {
    const value = /[<[].*$/.exec(o.flags)?.[0] ?? '';
    return {
      flags: o.flags,
      ...(o.long ? { long: o.long } : {}),
      ...(o.short ? { short: o.short } : {}),
      value,
      description: o.description,
      ...(o.argChoices ? { choices: o.argChoices } : {}),
      ...(o.envVar ? { env: o.envVar } : {}),
      ...(o.defaultValue !== undefined && typeof o.defaultValue !== 'boolean'
        ? { default: String(o.defaultValue) }
        : {}),
    };
  });
  const commands = help
    .visibleCommands(cmd)
    .map((c) =>
      c.name() === 'help' && c.parent !== cmd
        ? helpNode(c, [...path, 'help'])
        : commandTree(c, [...path, c.name()]),
    );
  return {
    path,
    usage: cmd.usage(),
    summary: help.subcommandDescription(cmd),
    description: help.commandDescription(cmd),
    options,
    commands,
  };
}

/** Commander's implicit `help [command]`, which is not a child of the command it serves. */
function helpNode(c: Command, path: string[]): CommandNode {
  return {
    path,
    usage: c.usage(),
    summary: c.description(),
    description: c.description(),
    options: [],
    commands: [],
  };
}

/** Every node, depth first, the program itself first. */
export function allCommands(root: CommandNode): CommandNode[] {
  return [root, ...root.commands.flatMap(allCommands)];
}
