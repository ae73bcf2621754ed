import { dirname, isAbsolute } from 'node:path';
import { configError } from '../core/errors.js';
import { checkName } from '../core/names.js';

/**
 * The systemd service unit for `burrow agent`: restarts forever except on a configuration error
 * (exit status 2), reads the device key through LoadCredential= so an unprivileged DynamicUser can
 * use a root-only key, and is sandboxed to what an outbound SSH client needs.
 */
export interface AgentUnitOptions {
  /** Device name; in Description, the file name and the state directory. */
  readonly name: string;
  /** Absolute argv to run: node, the CLI script, `agent`, its flags. */
  readonly command: readonly string[];
  /** Absolute path of the device's private key, exactly as it appears after `--identity`. */
  readonly identityFile: string;
  /** Absolute paths the agent writes (e.g. a known_hosts file); their directories become writable. */
  readonly writablePaths: readonly string[];
  /** Run as this existing user instead of a DynamicUser. */
  readonly user?: string;
}

/** Longest unit name systemd accepts, suffix included. */
const UNIT_NAME_MAX = 255;
const CREDENTIAL = 'identity';
/** Homes: hidden by ProtectHome=yes, so a command that lives there needs read-only instead. */
const HOME_PREFIXES = ['/home', '/root', '/run/user'];

/** `burrow-agent-<name>.service`; throws CONFIG_INVALID for a name that is not a device name. */
export function unitFileName(name: string): string {
  const check = checkName(name);
  if (!check.ok || check.name !== name) {
    throw configError(
      `--name: "${name}" is not a device name: ${check.ok ? 'use lower case' : check.reason}`,
    );
  }
  const file = `burrow-agent-${name}.service`;
  if (file.length > UNIT_NAME_MAX) {
    throw configError(`--name: "${name}" is too long for a systemd unit name`);
  }
  return file;
}

/** Escapes systemd specifiers (`%`), which are expanded in almost every setting. */
function escapeSpecifiers(value: string): string {
  return value.replaceAll('%', '%%');
}

/**
 * One word of a command line or path list as systemd reads it back verbatim: double-quoted, with
 * `\` and `"` backslash-escaped, `%` → `%%` (specifiers) and `$` → `$$` (variable expansion).
 * Control characters are refused rather than C-escaped: no burrow argument needs one.
 */
export function quoteArg(arg: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\x00-\x1f\x7f]/.test(arg)) {
    throw configError(`systemd unit: argument ${JSON.stringify(arg)} contains a control character`);
  }
  const escaped = arg.replace(/[\\"]/g, '\\$&').replaceAll('%', '%%').replaceAll('$', '$$$$');
  return `"${escaped}"`;
}

function requireAbsolute(what: string, path: string): void {
  if (!isAbsolute(path))
    throw configError(`systemd unit: ${what} must be an absolute path, got "${path}"`);
}

/**
 * ExecStart's words, with the key argument pointed at the credential (`%d/identity`, left for
 * systemd to expand), and the arguments kept as given (for the ProtectHome= decision).
 */
function execStart(command: readonly string[], identityFile: string) {
  const credential = `%d/${CREDENTIAL}`;
  const words: string[] = [];
  const kept: string[] = [];
  command.forEach((arg, i) => {
    if (arg === `--identity=${identityFile}`) {
      words.push(`"--identity=${credential}"`);
    } else if (arg === identityFile && command[i - 1] === '--identity') {
      words.push(`"${credential}"`);
    } else {
      words.push(quoteArg(arg));
      kept.push(arg);
    }
  });
  if (kept.length === command.length) {
    throw configError(`systemd unit: the command has no --identity ${identityFile} to replace`);
  }
  return { words, kept };
}

/** The absolute path an argument names, for `/x` and `--flag=/x` forms. */
function pathIn(arg: string): string | undefined {
  if (arg.startsWith('/')) return arg;
  const eq = arg.indexOf('=');
  return eq > 0 && arg[eq + 1] === '/' ? arg.slice(eq + 1) : undefined;
}

function underHome(path: string): boolean {
  return HOME_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`));
}

/**
 * The complete unit file text. Throws CONFIG_INVALID for a bad name, a relative path, a command
 * without `--identity <identityFile>`, or an argument systemd cannot carry.
 */
export function renderAgentUnit(o: AgentUnitOptions): string {
  const file = unitFileName(o.name);
  const [exe] = o.command;
  if (exe === undefined) throw configError('systemd unit: empty command');
  requireAbsolute('the program', exe);
  requireAbsolute('--identity', o.identityFile);
  for (const p of o.writablePaths) requireAbsolute('a writable path', p);
  const exec = execStart(o.command, o.identityFile);
  const homePaths = [...exec.kept.map(pathIn), ...o.writablePaths].filter(
    (p): p is string => p !== undefined && underHome(p),
  );
  const writableDirs = [...new Set(o.writablePaths.map((p) => dirname(p)))];
  const stateDir = `burrow/${o.name}`;

  const lines = [
    `# burrow agent for device "${o.name}": keeps a reverse SSH tunnel to the relay open.`,
    '#',
    '# Install:',
    `#   burrow agent systemd-unit … > /etc/systemd/system/${file}`,
    `#   systemctl daemon-reload && systemctl enable --now ${file}`,
    '#',
    '# The agent is restarted whatever makes it exit, except exit status 2: a configuration error',
    '# (bad flag, unreadable key, unknown relay host key) that restarting cannot fix. The unit then',
    `# stays failed; see \`journalctl -u ${file}\`.`,
    '#',
    '# State (relay in use, reconnects, last error):',
    `#   BURROW_DATA_DIR=/var/lib/burrow/${o.name} burrow agent status --name ${o.name}`,
    '',
    '[Unit]',
    `Description=${escapeSpecifiers(`burrow agent ${o.name} (reverse SSH tunnel to the relay)`)}`,
    'After=network-online.target',
    'Wants=network-online.target',
    '# Never give up restarting: the agent outlives relay and network outages.',
    'StartLimitIntervalSec=0',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${exec.words.join(' ')}`,
    'Restart=always',
    'RestartSec=1',
    'RestartPreventExitStatus=2',
    '# The key is copied by systemd into a directory only this service can read ($CREDENTIALS_DIRECTORY,',
    '# %d in ExecStart), so the key file itself may stay readable by root alone.',
    `LoadCredential=${CREDENTIAL}:${escapeSpecifiers(o.identityFile)}`,
    ...(o.user === undefined ? ['DynamicUser=yes'] : [`User=${escapeSpecifiers(o.user)}`]),
    '# One state directory per device: DynamicUser= gives each unit its own uid, and systemd',
    '# re-owns a state directory to the unit starting, so two agents must not share one.',
    `StateDirectory=${stateDir}`,
    'StateDirectoryMode=0700',
    `Environment=BURROW_DATA_DIR=%S/${stateDir}`,
    ...(writableDirs.length > 0 ? [`ReadWritePaths=${writableDirs.map(quoteArg).join(' ')}`] : []),
    '',
    '# Sandbox: an outbound SSH client needs the network, its state directory and nothing else.',
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    ...(homePaths.length > 0
      ? [
          `# read-only, not yes: the command uses ${homePaths.join(', ')}, which ProtectHome=yes would hide.`,
          'ProtectHome=read-only',
        ]
      : ['ProtectHome=yes']),
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectClock=yes',
    'ProtectHostname=yes',
    'ProtectProc=invisible',
    'ProcSubset=pid',
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
    'RestrictNamespaces=yes',
    'RestrictRealtime=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    '# MemoryDenyWriteExecute= is deliberately not set: V8 compiles JavaScript into pages that are',
    '# written and then executed, so Node dies (SIGSEGV) at start under it.',
    'SystemCallArchitectures=native',
    '# pkey_*: V8 protects its JIT pages with memory protection keys where the CPU has them, and',
    '# systemd before 254 leaves them out of @system-service (Node dies of SIGSYS on its first call).',
    'SystemCallFilter=@system-service pkey_alloc pkey_free pkey_mprotect',
    'SystemCallFilter=~@privileged @resources',
    '# A call outside the filter fails with EPERM instead of killing the agent.',
    'SystemCallErrorNumber=EPERM',
    'CapabilityBoundingSet=',
    'AmbientCapabilities=',
    'UMask=0077',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
  ];
  return `${lines.join('\n')}\n`;
}
