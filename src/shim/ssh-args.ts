import { CodedError } from '../core/errors.js';

/**
 * Reads an ssh command line the way OpenSSH's ssh does, to find the destination and the remote
 * command (or subsystem) among the user's options, so the shim can run the real ssh with exactly
 * those options but its own remote command. Pure.
 *
 * ssh's rules, as implemented here (OpenSSH 9's getopt string): single-letter options, combinable
 * (`-tt`, `-vp22`); an option that takes an argument takes the rest of its word or the next word
 * (`-p22`, `-p 22`, `-oX=y`, `-o X=y`); `--` ends options; the first other word is the
 * destination; options may also follow the destination (`ssh host -v`) until the first word that
 * is not an option, which begins the command. `-s` makes the command a subsystem name.
 */

/** Letters that take an argument (OpenSSH 9: "b:c:e:i:l:m:o:p:B:D:E:F:I:J:L:O:P:Q:R:S:w:W:"). */
const WITH_ARG = new Set('bceilmopBDEFIJLOPQRSwW'.split(''));
/** Letters that stand alone. */
const FLAGS = new Set('1246afgknqstvxyACGKMNTVXY'.split(''));

export interface SshCommandLine {
  /** The options as given, in order, each word as it was (for the real ssh). */
  readonly options: readonly string[];
  readonly destination: string;
  /** The remote command words; empty for a login shell. */
  readonly command: readonly string[];
  /** `-s`: the command is a subsystem name (scp's SFTP mode runs `-s … sftp`). */
  readonly subsystem: boolean;
  /**
   * A pty is requested: `-t` or `-o RequestTTY=yes|force`, unless a later `-T` or
   * `-o RequestTTY=no` takes it back (ssh applies them in order).
   */
  readonly tty: boolean;
  /** `-v`: ssh prints its debug output, which the shim then passes on unfiltered. */
  readonly verbose: boolean;
  /** Options that make ssh do something other than run one command (e.g. -N, -W, -O, -G, -V). */
  readonly unsupported: readonly string[];
}

export type SshArgsErrorCode = 'unknown-option' | 'missing-argument' | 'no-destination';

/** A command line the shim cannot read as ssh's; the message is safe to show. */
export class SshArgsError extends CodedError<SshArgsErrorCode> {
  override readonly name = 'SshArgsError';
}

/** ssh options that do not run a remote command: the shim cannot wrap those invocations. */
const NOT_A_COMMAND = new Set(['N', 'W', 'O', 'G', 'V', 'Q', 'f']);

/** `-o RequestTTY=…` (or with a space, as ssh_config allows): the value, lower case. */
function requestTtyOption(arg: string): string | undefined {
  return /^\s*requesttty\s*(?:=\s*|\s+)(\S+)\s*$/i.exec(arg)?.[1]?.toLowerCase();
}

export function parseSshArgs(argv: readonly string[]): SshCommandLine {
  const options: string[] = [];
  const unsupported: string[] = [];
  let subsystem = false;
  let tty = false;
  let verbose = false;
  let destination: string | undefined;
  let i = 0;
  let terminated = false;

  /** Consumes the option word at argv[i] (and its argument word, if separate). */
  const takeOption = (): void => {
    const word = argv[i]!;
    if (word.startsWith('--')) {
      throw new SshArgsError(
        'unknown-option',
        `unknown ssh option ${word} (ssh's options are single letters)`,
      );
    }
    options.push(word);
    i++;
    for (let j = 1; j < word.length; j++) {
      const letter = word[j]!;
      if (NOT_A_COMMAND.has(letter)) unsupported.push(`-${letter}`);
      if (WITH_ARG.has(letter)) {
        let arg = word.slice(j + 1);
        if (j === word.length - 1) {
          if (i >= argv.length)
            throw new SshArgsError('missing-argument', `option -${letter} needs an argument`);
          arg = argv[i]!;
          options.push(arg);
          i++;
        }
        const request = letter === 'o' ? requestTtyOption(arg) : undefined;
        if (request !== undefined) tty = request === 'yes' || request === 'force';
        return;
      }
      if (!FLAGS.has(letter)) {
        const within = word.length > 2 ? ` (in ${word})` : '';
        throw new SshArgsError('unknown-option', `unknown ssh option -${letter}${within}`);
      }
      if (letter === 's') subsystem = true;
      if (letter === 't') tty = true;
      if (letter === 'T') tty = false;
      if (letter === 'v') verbose = true;
    }
  };

  while (i < argv.length) {
    const word = argv[i]!;
    if (!terminated && word === '--') {
      options.push(word);
      terminated = true;
      i++;
      continue;
    }
    if (!terminated && word.startsWith('-') && word.length > 1) {
      takeOption();
      continue;
    }
    if (destination === undefined) {
      destination = word;
      i++;
      continue;
    }
    break; // the command starts here
  }
  if (destination === undefined)
    throw new SshArgsError('no-destination', 'no destination (user@host) given');
  return { options, destination, command: argv.slice(i), subsystem, tty, verbose, unsupported };
}
