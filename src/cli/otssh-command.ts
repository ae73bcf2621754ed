import { createWriteStream, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { hostKeyTrust } from '../agent/index.js';
import { createTranscript, TRANSCRIPT_FORMATS, type TranscriptFormat } from '../audit/index.js';
import { configError, isBurrowError } from '../core/errors.js';
import { checkName } from '../core/names.js';
import { PolicySet } from '../core/policy-set.js';
import { BindError, type Outcome, RelayError, startOtssh } from '../otssh/index.js';
import { generateEd25519, parseHostKey } from '../ssh/index.js';
import { readIdentity } from './agent-settings.js';
import { defaultDataDir } from './data-dir.js';
import { announce, knownHostsPatterns } from './otssh-announce.js';
import { OtsshError } from './otssh-error.js';
import { parseCount, parseHostPort } from './parse.js';
import { VERSION } from './version.js';

/**
 * `otssh` (and `burrow otssh`): a one-time, audited SSH server. Lifecycle, in order: load the
 * authorized keys; copy the environment; generate a fresh ed25519 host key and print its public
 * key (`ssh-ed25519 AAAA…`, as the otssh spec shows it) on stdout; listen (and/or register on a
 * relay); run the announce command with that key; accept; serve the first authenticated session;
 * exit with its status.
 *
 * Every error is one line on stderr starting with the words the otssh spec fixes (the README's
 * table), and exits 1 (bad flags exit 2); a timeout with no session prints its reason and exits 0.
 */

/** Exit status for failures of the server itself (the session's own status passes through). */
const EXIT_ERROR = 1;
const EXIT_USAGE = 2;

interface OtsshFlags {
  port?: string;
  host: string;
  log: string;
  logFormat: string;
  announce?: string;
  announceFormat: string;
  timeout: string;
  authorizedKeys?: string;
  relay?: string;
  name?: string;
  identity?: string;
  relayHostKey?: string[];
  knownHosts?: string;
  acceptNew?: boolean;
}

/**
 * Go's flag syntax (`-port=2022`, `-port 2022`) next to GNU's (`--port 2022`, `--port=2022`):
 * a single-dash word longer than one letter is a long flag.
 */
export function normalizeGoFlags(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    out.push(/^-[a-z][a-z-]+(=.*)?$/s.test(a) ? `-${a}` : a);
  }
  return out;
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

const ANNOUNCE_FORMATS = ['key', 'known-hosts'];

function buildCommand(name: string): Command {
  return new Command(name)
    .description(
      'A one-time, audited SSH server: serves exactly one authenticated session (a login shell, ' +
        'or the command the client asks for), records everything typed and printed, then exits ' +
        "with the session's exit status. Flags may be written Go-style (-port=2022) or " +
        'GNU-style (--port 2022).',
    )
    .addOption(
      new Option(
        '--authorized-keys <file|->',
        'public keys allowed to log in; - reads stdin (required)',
      ),
    )
    .addOption(
      new Option('--port <n>', 'TCP port to listen on [default: 2022; with --relay: none]'),
    )
    .addOption(new Option('--host <addr>', 'address to listen on').default('0.0.0.0'))
    .addOption(
      new Option('--log <file|->', 'session transcript: input and output with timestamps').default(
        '-',
      ),
    )
    .addOption(
      new Option('--log-format <format>', 'transcript format')
        .choices(TRANSCRIPT_FORMATS)
        .default('text'),
    )
    .addOption(
      new Option('--announce <cmd>', 'run CMD with the host key as its argument once listening'),
    )
    .addOption(
      new Option(
        '--announce-format <format>',
        'how the host key is printed and announced: key (ssh-ed25519 AAAA…) or known-hosts ' +
          '(with the host pattern in front: [*]:2022 ssh-ed25519 AAAA…)',
      )
        .choices(ANNOUNCE_FORMATS)
        .default('key'),
    )
    .addOption(
      new Option(
        '--timeout <seconds>',
        'give up when no session has authenticated by then',
      ).default('600'),
    )
    .addOption(
      new Option(
        '--relay <host:port>',
        'register NAME:22 on this burrow relay (ssh -J relay NAME)',
      ),
    )
    .addOption(new Option('--name <name>', 'the name to register on the relay'))
    .addOption(new Option('--identity <file>', 'private key to authenticate to the relay with'))
    .addOption(
      new Option('--relay-host-key <key>', "pin the relay's host key; repeatable").argParser(
        collect,
      ),
    )
    .addOption(new Option('--known-hosts <file>', "known_hosts file with the relay's host key"))
    .addOption(new Option('--accept-new', "trust the relay's host key on first use"))
    .version(VERSION, '-V, --version')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
}

/** Entry point of the standalone `otssh` executable. */
export async function runOtsshCli(argv: string[], name = 'otssh'): Promise<never> {
  let flags: OtsshFlags;
  try {
    flags = buildCommand(name).parse(normalizeGoFlags(argv), { from: 'user' }).opts<OtsshFlags>();
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE);
    throw err;
  }
  try {
    const code = await runOtssh(flags);
    process.exit(code);
  } catch (err) {
    if (err instanceof OtsshError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(EXIT_ERROR);
    }
    if (isBurrowError(err)) {
      process.stderr.write(`${name}: ${err.message}\n`);
      process.exit(EXIT_USAGE);
    }
    process.stderr.write(`${name}: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(EXIT_ERROR);
  }
}

async function runOtssh(flags: OtsshFlags): Promise<number> {
  // 1. Settings and the authorized keys.
  const timeoutS = parseCount('--timeout', flags.timeout, 1, 7 * 86_400);
  const port =
    flags.port === undefined
      ? flags.relay
        ? undefined
        : 2022
      : parseCount('--port', flags.port, 0, 65535);
  if (!flags.authorizedKeys)
    throw new OtsshError(
      'keys-invalid',
      'authorized keys invalid: (none given): use -authorized-keys=FILE or -authorized-keys=-',
    );
  const policy = loadKeys(flags.authorizedKeys);
  // 2. The environment the session will get.
  const env = Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined),
  );
  const shell = env.SHELL || '/bin/sh';
  const relay = flags.relay ? relayOptions(flags) : undefined;
  // The transcript target is checked before anything is announced.
  const sink = openLog(flags.log);
  // 3. A fresh host key, its public key on stdout: bare, as the spec shows it, so that a script
  // can write `[host]:port $1` into known_hosts; or, asked for, as a known_hosts line.
  const hostKey = parseHostKey(generateEd25519('otssh').privateKey, 'generated');
  const keyLine =
    flags.announceFormat === 'known-hosts'
      ? `${knownHostsPatterns(port, relay?.name)} ${hostKey.publicLine}`
      : hostKey.publicLine;
  process.stdout.write(`${keyLine}\n`);

  let failed: Error | undefined;
  let onFail = (e: Error) => {
    failed = e;
  };
  const transcript = createTranscript(flags.logFormat as TranscriptFormat, sink, {
    onFailure: (e) => onFail(e),
  });
  // 4. Listen and/or register.
  const server = await startOtssh(
    {
      ...(port === undefined ? {} : { listen: { host: flags.host, port } }),
      ...(relay ? { relay } : {}),
      timeoutMs: timeoutS * 1000,
      policy,
      hostKey,
      shell,
      env,
      cwd: env.HOME && isDir(env.HOME) ? env.HOME : process.cwd(),
      maxAuthTries: 6,
      notice: (line) => process.stderr.write(`otssh: ${line}\n`),
    },
    transcript,
  ).catch((err: Error) => {
    if (err instanceof BindError)
      throw new OtsshError('bind-failed', `Could not bind to port ${port}: ${err.message}`);
    if (err instanceof RelayError)
      throw new OtsshError(
        'relay-failed',
        `Could not register on relay ${flags.relay}: ${err.message}`,
      );
    throw err;
  });
  onFail = (e) => server.transcriptFailed(e);
  if (failed) server.transcriptFailed(failed);
  // 5. Announce, once the port is open.
  if (flags.announce !== undefined) {
    try {
      await announce(flags.announce, keyLine);
    } catch (err) {
      server.close();
      throw err;
    }
  }
  // 6. Accept; one session. A signal ends it (and the program) like a dropped connection.
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(sig, () => {
      server.close();
      process.stderr.write(`otssh: stopped by ${sig}\n`);
      process.exit(128 + (sig === 'SIGTERM' ? 15 : sig === 'SIGINT' ? 2 : 1));
    });
  }
  server.open();
  const outcome = await server.outcome;
  await transcript.close().catch(() => {});
  return report(outcome, flags, timeoutS);
}

function report(outcome: Outcome, flags: OtsshFlags, timeoutS: number): number {
  switch (outcome.kind) {
    case 'session':
      return outcome.code;
    case 'timeout':
      process.stderr.write(`Timeout: no authenticated session within ${timeoutS} seconds\n`);
      return 0;
    case 'dropped':
      throw new OtsshError(
        'session-dropped',
        'Connection closed unexpectedly: the client went away before the session ended',
      );
    case 'transcript-failed':
      throw new OtsshError(
        'log-failed',
        `Could not write to log file ${flags.log === '-' ? '(stdout)' : flags.log}: ${errText(outcome.error)}; the session was ended`,
      );
  }
}

function loadKeys(source: string): PolicySet {
  const label = source === '-' ? '- (stdin)' : source;
  let text: string;
  try {
    text = readFileSync(source === '-' ? 0 : source, 'utf8');
  } catch (err) {
    throw new OtsshError(
      'keys-invalid',
      `authorized keys invalid: ${label}: cannot read it (${errText(err)})`,
    );
  }
  const { set, errors } = PolicySet.parse(text, label);
  if (errors.length > 0) {
    throw new OtsshError(
      'keys-invalid',
      `authorized keys invalid: ${label}: ${errors[0]!.message.slice(label.length + 1)}`,
    );
  }
  if (set.size === 0)
    throw new OtsshError('keys-invalid', `authorized keys invalid: ${label}: no keys in it`);
  return set;
}

function openLog(target: string): NodeJS.WritableStream {
  if (target === '-') return process.stdout;
  try {
    const fd = openSync(target, 'a', 0o600);
    return createWriteStream(target, { fd });
  } catch (err) {
    throw new OtsshError('log-failed', `Could not write to log file ${target}: ${errText(err)}`);
  }
}

function relayOptions(flags: OtsshFlags) {
  if (!flags.name)
    throw new OtsshError('flag-missing', '--relay needs --name: the name to register');
  const check = checkName(flags.name);
  if (!check.ok) throw configError(`--name: "${flags.name}": ${check.reason}`);
  if (!flags.identity)
    throw new OtsshError('flag-missing', '--relay needs --identity: the key to register with');
  const r = parseHostPort(
    '--relay',
    flags.relay!.includes(':') ? flags.relay! : `${flags.relay}:2222`,
    '',
  );
  const trust = hostKeyTrust({
    pinned: flags.relayHostKey ?? [],
    knownHostsFile: flags.knownHosts ?? join(defaultDataDir(), 'known_hosts'),
    acceptNew: flags.acceptNew === true,
  });
  let privateKey: string;
  try {
    privateKey = readIdentity(flags.identity);
  } catch (err) {
    throw new OtsshError(
      'relay-failed',
      `Could not register on relay ${flags.relay}: ${(err as Error).message}`,
    );
  }
  return {
    name: flags.name,
    link: {
      host: r.host,
      port: r.port,
      username: flags.name,
      privateKey,
      verifyHostKey: (blob: Buffer) => {
        const d = trust.check(r.host, r.port, blob);
        return d.ok ? { ok: true } : { ok: false, message: d.message };
      },
      keepaliveIntervalMs: 5000,
      keepaliveCountMax: 2,
      connectTimeoutMs: 10_000,
    },
  };
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function errText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ?? e?.message ?? String(err);
}
