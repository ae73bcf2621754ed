import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { ENV_PREFIX } from '../core/constants.js';
import { BurrowError, configError } from '../core/errors.js';
import {
  addedComment,
  addKeyLine,
  buildKeyLine,
  describePermits,
  fingerprint,
  type KeyMatch,
  type PublicKey,
  parseAuthorizedKeys,
  parseExpiryTime,
  parsePublicKey,
  removeKeyLines,
  shortKeyType,
} from '../core/policy/index.js';
import { defaultDataDir } from './data-dir.js';
import { editFile, readBounded, readStdinBounded, refused } from './keys-file.js';

/**
 * `burrow keys add|list|remove`: edits the relay's policy file (authorized_keys) safely. The
 * relay re-reads the file when it changes, so no restart is needed. Exit status: 0 done,
 * 1 refused (already there, not found), 2 usage errors (bad flag value, bad key).
 */

interface FileFlags {
  authorizedKeys?: string;
}

interface AddFlags extends FileFlags {
  listen: string[];
  open: string[];
  from?: string;
  expiry?: string;
  replace?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

function fileOption(): Option {
  return new Option(
    '--authorized-keys <file>',
    'the relay policy file [default: <data-dir>/authorized_keys, as for burrow relay]',
  ).env(`${ENV_PREFIX}AUTHORIZED_KEYS`);
}

function policyPath(flags: FileFlags): string {
  return flags.authorizedKeys ?? join(defaultDataDir(), 'authorized_keys');
}

export function registerKeysCommand(program: Command): void {
  const keys = program
    .command('keys')
    .summary("add, list and remove keys in the relay's policy file")
    .description(
      "Edits the relay's policy file (an OpenSSH authorized_keys file). The running relay " +
        'picks changes up by itself. Each change is atomic and keeps every other line as it ' +
        'was; concurrent runs wait for each other.\n\n' +
        'Exit status: 0 done, 1 refused (already there, not found), 2 usage error.',
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  burrow keys add --listen dev1:22 device_key.pub   # a device: dev1 only\n' +
        "  burrow keys add --open '*:22' operator_key.pub    # an operator: every device\n" +
        '  burrow keys list\n' +
        '  burrow keys remove SHA256:…\n',
    );

  keys
    .command('add')
    .summary('add a public key with what it may register (--listen) and reach (--open)')
    .description(
      'Adds the public key in PUBKEY_FILE ("-" reads stdin) to the policy file, with ' +
        'permitlisten="NAME:PORT" for each --listen, permitopen="NAME:PORT" for each --open ' +
        '(NAME and PORT may use the globs * and ?), from="PATTERNS" and ' +
        'expiry-time="TIME". At least one --listen or --open is required. A comment line ' +
        'saying when and what is written above the key. A key already in the file is refused ' +
        'unless --replace.',
    )
    .argument('<PUBKEY_FILE>', 'public key file (.pub), or - for stdin')
    .option('--listen <NAME:PORT>', 'the key may register NAME:PORT (repeatable)', collect, [])
    .option('--open <NAME:PORT>', 'the key may reach NAME:PORT (repeatable)', collect, [])
    .option('--from <patterns>', 'only from these source addresses (e.g. 10.0.0.0/8,!10.0.0.1)')
    .option('--expiry <YYYYMMDD[HHMM[SS]][Z]>', 'refused after this time (Z: UTC, else local)')
    .option('--replace', 'replace the line(s) of a key already in the file')
    .addOption(fileOption())
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  burrow keys add --listen dev1:22 device_key.pub\n' +
        "  burrow keys add --open '*:22' --from 10.0.0.0/8 --expiry 20301231Z \\\n" +
        '      operator_key.pub\n' +
        "  ssh-keygen -y -f key | burrow keys add --listen 'rack7-*:22' -\n" +
        '  burrow keys add --replace --listen dev1:22 --listen dev1:80 device_key.pub\n',
    )
    .action(async (pubkeyFile: string, flags: AddFlags) => {
      await addKey(pubkeyFile, flags);
    });

  keys
    .command('list')
    .summary('list the keys in the policy file and what each may do')
    .description(
      'Prints one line per key: line number, fingerprint, type, comment, and what it may do ' +
        '(listen, open, from, expiry; expired keys are marked). Lines the relay would skip are ' +
        'reported on stderr as FILE:LINE: reason.',
    )
    .option('--json', 'print a JSON array instead')
    .addOption(fileOption())
    .addHelpText('after', '\nExamples:\n  burrow keys list\n  burrow keys list --json\n')
    .action(async (flags: FileFlags & { json?: boolean }) => {
      await listKeys(flags);
    });

  keys
    .command('remove')
    .summary('remove a key (by fingerprint or public key file) from the policy file')
    .description(
      'Removes every line holding the key, and the comment `burrow keys add` wrote above ' +
        'each. The key is given by its SHA256: fingerprint (as `burrow keys list` and ' +
        '`ssh-keygen -lf` print it) or by its public key file ("-" reads stdin).',
    )
    .argument('<KEY>', 'SHA256:… fingerprint, or public key file, or - for stdin')
    .addOption(fileOption())
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  burrow keys remove SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s\n' +
        '  burrow keys remove operator_key.pub\n',
    )
    .action(async (key: string, flags: FileFlags) => {
      await removeKey(key, flags);
    });
}

async function readPublicKey(source: string): Promise<PublicKey> {
  const text = source === '-' ? await readStdinBounded() : await readBounded(source, 'key file');
  const name = source === '-' ? 'stdin' : source;
  if (text === undefined) throw configError(`${name}: no such file`);
  const parsed = parsePublicKey(text);
  if (!parsed.ok) throw new BurrowError('KEY_INVALID', `${name}: ${parsed.message}`);
  return parsed.key;
}

async function addKey(source: string, flags: AddFlags): Promise<void> {
  const key = await readPublicKey(source);
  const permits = {
    listen: flags.listen,
    open: flags.open,
    ...(flags.from === undefined ? {} : { from: flags.from }),
    ...(flags.expiry === undefined ? {} : { expiry: flags.expiry }),
  };
  const built = buildKeyLine(key, permits);
  if (!built.ok) throw configError(`${built.flag}: ${built.message}`);
  const what = describePermits(built.entry);
  const file = policyPath(flags);
  const comment = addedComment(key.fingerprint, what, new Date());
  const replaced = await editFile(file, (text) => {
    const result = addKeyLine(text ?? '', key.keyBlob, comment, built.line, flags.replace === true);
    if (!result.ok) {
      const lines = result.lines.join(', ');
      throw refused(
        `${key.fingerprint} is already in ${file} (line ${lines}); use --replace to replace it`,
      );
    }
    return { text: result.text, result: result.replaced };
  });
  const type = shortKeyType(key.keyType);
  process.stdout.write(
    replaced > 0
      ? `replaced ${key.fingerprint} (${type}) in ${file}: ${what}\n`
      : `added ${key.fingerprint} (${type}) to ${file}: ${what}\n`,
  );
  const expiry = flags.expiry === undefined ? undefined : parseExpiryTime(flags.expiry);
  if (expiry?.ok && expiry.at < Date.now()) {
    process.stderr.write(`burrow: warning: --expiry ${flags.expiry} is past: the key is refused\n`);
  }
}

async function listKeys(flags: FileFlags & { json?: boolean }): Promise<void> {
  const file = policyPath(flags);
  const text = await readBounded(file, 'policy file');
  if (text === undefined) throw refused(`${file} does not exist`);
  const { entries, errors } = parseAuthorizedKeys(text, file);
  for (const e of errors) process.stderr.write(`${e.message}\n`);
  const now = Date.now();
  const rows = entries.map((e) => ({
    line: e.line,
    fingerprint: e.fingerprint,
    type: shortKeyType(e.keyType),
    comment: e.comment ?? '',
    listen: e.listen.map((r) => `${r.name}:${r.port}`),
    open: e.open.map((r) => `${r.name}:${r.port}`),
    ...(e.from === undefined ? {} : { from: e.from.text }),
    ...(e.expiresAt === undefined ? {} : { expiry: new Date(e.expiresAt).toISOString() }),
    expired: e.expiresAt !== undefined && Math.floor(now / 1000) * 1000 > e.expiresAt,
    permits: describePermits(e),
  }));
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  const width = (pick: (r: (typeof rows)[number]) => string) =>
    Math.max(0, ...rows.map((r) => pick(r).length));
  const lineW = width((r) => String(r.line));
  const typeW = width((r) => r.type);
  const commentW = width((r) => r.comment || '-');
  for (const r of rows) {
    const cells = [
      String(r.line).padStart(lineW),
      r.fingerprint,
      r.type.padEnd(typeW),
      (r.comment || '-').padEnd(commentW),
      `${r.permits}${r.expired ? ' (EXPIRED)' : ''}`,
    ];
    process.stdout.write(`${cells.join('  ')}\n`);
  }
}

const FINGERPRINT_RE = /^SHA256:[A-Za-z0-9+/]{43}$/;

async function removeKey(keyArg: string, flags: FileFlags): Promise<void> {
  let match: KeyMatch;
  if (keyArg.startsWith('SHA256:')) {
    if (!FINGERPRINT_RE.test(keyArg)) {
      throw configError(`${keyArg} is not a SHA256 fingerprint (SHA256: and 43 base64 characters)`);
    }
    match = { fingerprint: keyArg };
  } else {
    match = { blob: (await readPublicKey(keyArg)).keyBlob };
  }
  const file = policyPath(flags);
  const done = await editFile(file, (text) => {
    const result = text === undefined ? ({ ok: false } as const) : removeKeyLines(text, match);
    if (!result.ok) {
      const fp = 'fingerprint' in match ? match.fingerprint : fingerprint(match.blob);
      throw refused(`${fp} is not in ${file}`);
    }
    return { text: result.text, result };
  });
  const n = done.removed;
  process.stdout.write(
    `removed ${done.fingerprint} from ${file} (${n} ${n === 1 ? 'line' : 'lines'})\n`,
  );
}
