/**
 * Runs the README's marked blocks (see docs.ts) the way a reader would, on a machine of their own:
 * inside new mount, network and PID namespaces, where
 *
 * - root's home directory is a fresh temporary directory (bind-mounted over it, so ssh, sshd and
 *   the shell all see the same empty `~`, as on a new machine) and `/usr/local` is another (so
 *   `npm install -g .` installs into it and nothing outside the test changes);
 * - the network is a private loopback, so the README's fixed ports (2222, 22, 8022) are free;
 * - an OpenSSH sshd listens on port 22 as the device's SSH server (the README tells the reader to
 *   have one; its own install steps are not run here);
 * - every process ends with the namespace's first process, so nothing outlives the test.
 *
 * Each block runs as if pasted into a new terminal: `bash -e -o pipefail`, in `~` (blocks of the
 * `install` group in the clone), stdin from /dev/null. A background block is started and the run
 * goes on once its `wait` command succeeds. The first failure stops the run and prints the block,
 * its output and the output of every background block so far. A block's `wait`, for a foreground
 * block, is what a reader would see happen before going on (the relay's line saying it reloaded
 * its policy, say): the run waits for it, within a bound.
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { DocBlock } from './docs.js';

/** How long one block, or one background block's readiness, may take. */
const BLOCK_TIMEOUT_S = 120;
const WAIT_TIMEOUT_S = 30;

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

const PRELUDE = String.raw`
set -u
D=$DOCS_DIR
fail() {
  echo "@@docs FAIL block $1: $2"
  echo "---- block $1 (README line $3):"; cat "$D/b$1.sh"
  echo "---- its output:"; cat "$D/b$1.out" 2>/dev/null
  for f in "$D"/bg*.out; do [ -e "$f" ] && { echo "---- background $f:"; tail -n 40 "$f"; }; done
  echo "---- sshd log:"; tail -n 20 "$D/sshd.log" 2>/dev/null
  exit 1
}
at() { if [ "$1" = clone ]; then echo "$DOCS_CLONE"; else echo "$HOME"; fi; }
await_ready() { # index line wait pid (empty: none to watch)
  local n=0
  until bash -c "$3" > /dev/null 2>&1; do
    [ -z "$4" ] || kill -0 "$4" 2> /dev/null || fail "$1" "exited before: $3" "$2"
    n=$((n + 1)); [ $n -lt $((DOCS_WAIT_TIMEOUT_S * 5)) ] || fail "$1" "not ready: $3" "$2"
    sleep 0.2
  done
}
run_fg() { # index line dir expect wait
  (cd "$(at "$3")" && exec timeout "$DOCS_BLOCK_TIMEOUT_S" bash -e -o pipefail "$D/b$1.sh") \
    > "$D/b$1.out" 2>&1 < /dev/null || fail "$1" "exit status $?" "$2"
  [ -z "$4" ] || grep -qF -- "$4" "$D/b$1.out" || fail "$1" "output lacks: $4" "$2"
  [ -z "$5" ] || await_ready "$1" "$2" "$5" ""
  echo "@@docs ok block $1"
}
run_bg() { # index line dir wait
  (cd "$(at "$3")" && exec bash -e -o pipefail "$D/b$1.sh") > "$D/b$1.out" 2>&1 < /dev/null &
  ln -s "$D/b$1.out" "$D/bg$1.out"
  await_ready "$1" "$2" "$4" $!
  echo "@@docs ok block $1"
}
ip link set lo up || exit 91
mount --bind "$DOCS_HOME" "$DOCS_ROOT_HOME" || exit 92
mount --bind "$DOCS_USR_LOCAL" /usr/local || exit 92
mkdir -p /run/sshd
export HOME=$DOCS_ROOT_HOME USER=root LOGNAME=root SHELL=/bin/bash
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
unset BURROW_DATA_DIR NODE_OPTIONS
cd "$HOME"
/usr/sbin/sshd -f "$D/sshd_config" -E "$D/sshd.log" || { echo "@@docs sshd did not start"; exit 93; }
`;

const SSHD_CONFIG = (dir: string) => `ListenAddress 127.0.0.1:22
ListenAddress [::1]:22
HostKey ${dir}/ssh_host_ed25519_key
PidFile none
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
Subsystem sftp /usr/lib/openssh/sftp-server
LogLevel VERBOSE
`;

export interface DocsRun {
  /** 0 when every block ran and passed. */
  code: number | null;
  /** Everything the runner printed: `@@docs ok block N` per block, details on failure. */
  output: string;
}

export interface DocsRunOptions {
  /**
   * A fresh directory (mode 0700) for the scripts, the homes and the logs, holding the device
   * sshd's host key as `ssh_host_ed25519_key`.
   */
  dir: string;
  /** The repository root, where `install` blocks run. */
  clone: string;
  /** Bound for the whole run. */
  timeoutMs: number;
}

/** Writes the blocks as scripts and runs them in the namespaces; never throws for a failed block. */
export async function runDocBlocks(blocks: DocBlock[], opts: DocsRunOptions): Promise<DocsRun> {
  const { dir } = opts;
  const home = join(dir, 'home');
  const usrLocal = join(dir, 'usr-local');
  await mkdir(home, { mode: 0o700 });
  for (const sub of ['bin', 'lib', 'sbin', 'share/man/man1']) {
    await mkdir(join(usrLocal, sub), { recursive: true, mode: 0o755 });
  }
  await writeFile(join(home, '.npmrc'), 'prefix=/usr/local\n', { mode: 0o600 });
  await writeFile(join(dir, 'sshd_config'), SSHD_CONFIG(dir));
  const steps: string[] = [];
  for (const [i, b] of blocks.entries()) {
    await writeFile(join(dir, `b${i}.sh`), `${b.code}\n`);
    const at = b.group === 'install' ? 'clone' : 'home';
    steps.push(
      b.background
        ? `run_bg ${i} ${b.line} ${at} ${quote(b.wait ?? 'false')}`
        : `run_fg ${i} ${b.line} ${at} ${quote(b.expect ?? '')} ${quote(b.wait ?? '')}`,
    );
  }
  await writeFile(join(dir, 'run.sh'), `${PRELUDE}\n${steps.join('\n')}\necho "@@docs done"\n`);

  const child = spawn(
    'unshare',
    ['--mount', '--net', '--pid', '--fork', '--mount-proc', '--kill-child', 'bash', 'run.sh'],
    {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        DOCS_DIR: dir,
        DOCS_CLONE: opts.clone,
        DOCS_HOME: home,
        DOCS_USR_LOCAL: usrLocal,
        DOCS_BLOCK_TIMEOUT_S: String(BLOCK_TIMEOUT_S),
        DOCS_WAIT_TIMEOUT_S: String(WAIT_TIMEOUT_S),
        // Where ssh and sshd look for `~` (the passwd entry, not $HOME).
        DOCS_ROOT_HOME: userInfo().homedir,
      },
    },
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    // Bounded: a runaway block cannot fill the test's memory.
    if (output.length < 1_000_000) output += chunk.toString();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
  const code = await new Promise<number | null>((resolve) => {
    child.on('error', (err) => {
      output += `cannot run unshare: ${err.message}\n`;
      resolve(127);
    });
    child.on('close', (c) => resolve(c));
  });
  clearTimeout(timer);
  return { code, output };
}
