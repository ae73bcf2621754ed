import { ENV_PREFIX } from '../core/constants.js';
import { defaultDataDir } from './data-dir.js';

/**
 * `burrow shim` (and the `burrow-shim` executable): ssh's command line, for `rsync -e 'burrow shim'`,
 * `rsync -e burrow-shim`, `scp -S burrow-shim` and `burrow shim host cmd…`. One internal mode, started by the shim itself and not by people:
 * `--serve`, the remote end of a connection (and, for a new session, its holder).
 */

const USAGE = `usage: burrow shim [ssh options] [user@]host command [args…]
       burrow-shim [ssh options] [user@]host command [args…]

Runs a remote command over ssh so that it survives a broken connection: the
real ssh is used (your options, ~/.ssh/config, -J relays and agents all apply),
the remote command runs in a small holder that outlives the connection, and
when ssh dies the shim starts it again and both sides resend what the other has
not received. burrow-shim is the same program under one name, for scp, which
runs its -S value as a single program:

  rsync -a -e burrow-shim SRC host:DST   (or rsync -a -e 'burrow shim' …)
  scp -S burrow-shim FILE host:PATH      (SFTP mode; scp -O -S burrow-shim …
                                         for legacy scp)
  burrow shim host 'command'

burrow must be on the remote PATH (of non-interactive ssh sessions), or set
BURROW_SHIM_REMOTE.

Environment:
  BURROW_SHIM_SSH            the ssh program (default: ssh)
  BURROW_SHIM_REMOTE         the remote command starting the serving end
                             (default: burrow shim --serve)
  BURROW_SHIM_RESUME_WINDOW  how long a broken session may take to reattach
                             (default: 10m)
  BURROW_SHIM_BUFFER         unacknowledged bytes held per stream
                             (default: 16777216)
  BURROW_SHIM_NATIVE         the byte path: 1 (default) the native one where it
                             is built, else JavaScript's; 0 JavaScript's;
                             require the native one or fail (each end reads
                             its own)

Without a remote command, or with -N/-W/-f/-t and the like, the shim runs ssh
unchanged. Exit status: the remote command's, or 255 when the session cannot be
reached or resumed.`;

const env = (name: string) => process.env[`${ENV_PREFIX}SHIM_${name}`];

export async function runShimCli(argv: string[]): Promise<never> {
  // From source each role loads only its own modules; as built (scripts/build.mjs) this file is
  // one bundle of both, which loads faster than their 30 modules one by one.
  if (argv[0] === '--serve') {
    const { runServe } = await import('../shim/serve.js');
    process.exit(
      await runServe({
        dataDir: defaultDataDir(),
        shell: process.env.SHELL || '/bin/sh',
        env: process.env,
        home: process.env.HOME || '/',
      }),
    );
  }
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h') {
    // Asked for, on stdout; called wrongly (as ssh does), on stderr with a failing status.
    (argv.length === 0 ? process.stderr : process.stdout).write(`${USAGE}\n`);
    process.exit(argv.length === 0 ? 2 : 0);
  }
  // What runs before ssh starts is loaded first; the rest of the local side (local.js) loads
  // while ssh connects.
  const [
    { spawn },
    { parseSshArgs, SshArgsError },
    { pumpFor },
    { startSsh },
    { parseDuration },
    tty,
  ] = await Promise.all([
    import('node:child_process'),
    import('../shim/ssh-args.js'),
    import('../shim/native-pump.js'),
    import('../shim/ssh-start.js'),
    import('./parse.js'),
    import('node:tty'),
  ]);
  const ssh = env('SSH') ?? 'ssh';
  let line: ReturnType<typeof parseSshArgs>;
  try {
    line = parseSshArgs(argv);
  } catch (err) {
    if (err instanceof SshArgsError) {
      process.stderr.write(`burrow shim: ${err.message}\n`);
      process.exit(255);
    }
    throw err;
  }
  if (line.command.length === 0 || line.unsupported.length > 0 || line.tty) {
    // Nothing the shim can make resumable (a login shell, a tunnel, a pty): plain ssh.
    const child = spawn(ssh, argv, { stdio: 'inherit' });
    child.on('error', (err) => {
      process.stderr.write(`burrow shim: cannot run ${ssh}: ${err.message}\n`);
      process.exit(255);
    });
    child.on('close', (code, signal) => process.exit(code ?? (signal ? 255 : 0)));
    return new Promise<never>(() => {});
  }
  let resumeWindowMs: number;
  let bufferBytes: number;
  let pump: ReturnType<typeof pumpFor>;
  try {
    // A terminal's file description is shared with the shell: the native path (which makes its
    // fds non-blocking) is for pipes, sockets and files.
    const chosen = pumpFor(env('NATIVE'));
    pump = tty.isatty(0) || tty.isatty(1) ? undefined : chosen;
    resumeWindowMs = parseDuration('BURROW_SHIM_RESUME_WINDOW', env('RESUME_WINDOW') ?? '10m');
    bufferBytes = Number(env('BUFFER') ?? 16 * 1024 * 1024);
    if (!Number.isSafeInteger(bufferBytes) || bufferBytes < 256 * 1024) {
      throw new Error('BURROW_SHIM_BUFFER: expected a number of bytes, at least 262144');
    }
  } catch (err) {
    process.stderr.write(`burrow shim: ${(err as Error).message}\n`);
    process.exit(255);
  }
  const start = {
    ssh,
    line,
    remote: env('REMOTE') ?? 'burrow shim --serve',
    ...(pump ? { pump } : {}),
  };
  const first = startSsh(start);
  const { runLocal } = await import('../shim/local.js');
  const code = await runLocal({ ...start, resumeWindowMs, bufferBytes, first });
  process.exit(code);
}
