#!/usr/bin/env node
/**
 * The project's test command (`npm test`). Phases, in order:
 *
 *   1. prerequisites  the real programs the integration tests start (ssh, sshd, ssh-keygen, rsync,
 *                     scp, redis-server, nc, autossh, systemd-analyze, ip, unshare, zsh, man, curl,
 *                     chromium);
 *                     when some are missing and we are root with apt-get, they are installed,
 *                     otherwise the run stops naming exactly what is missing
 *   2. build          scripts/build.mjs, as `npm run build`: tsc -p tsconfig.json (type-check +
 *                     emit into dist/), chmod +x the scripts of package.json `bin`, and the
 *                     shim's bundle
 *   3. lint           biome check . (lint + format check)
 *   4. tests          node:test's run() (scripts/test-run.mjs) on every *.test.js under dist/ whose
 *                     .ts source still exists,
 *                     in three groups one after the other (scripts/test-groups.mjs):
 *                     `parallel`, most files, 3 at a time; `timed`, the files that bound
 *                     failover and fault times, 2 at a time among themselves; `alone`, the
 *                     soak and the floods, one at a time with nothing beside them (a rebuild
 *                     of dist/ by a test's `npm install -g .` renames each file into place, so
 *                     the files that run it stay in `parallel`). Within a group the longest files
 *                     start first (times of the last run in dist/.test-times.json, else
 *                     scripts/test-times.json). Every group runs even when one fails;
 *                     the closing lines give each group's time, the slowest files, and the
 *                     tests/pass/fail counts of the whole run
 *
 * Usage:
 *   npm test                         everything
 *   npm test -- relay shim           only test files whose path contains "relay" or "shim"
 *   npm test -- --test-name-pattern=drain   only tests whose name matches; other arguments
 *                                    starting with '-' are node flags for every test process
 *
 * Environment:
 *   BURROW_TEST_SKIP_LINT=1  skip phase 3, for quick local runs (CI never sets it)
 *   BURROW_KEEP_TMP=1        keep each test's temp dir and print its path (read by test/helpers)
 *   BURROW_TEST_CONCURRENCY=N  files at a time in the parallel group (default 3; 1 runs every
 *                            file one at a time, as before groups, to rule out interference)
 *   NODE_EXTRA_CA_CERTS      removed for phase 4: Node parses that bundle as every process
 *                            starts (about 45 ms for the system bundle), and the tests start
 *                            thousands of node processes. The one kind that talks to a TLS
 *                            server the tests did not start is npm installing from the registry
 *                            (test/helpers/install.ts), which may need that bundle (a proxy's
 *                            CA): it gets it back from BURROW_TEST_NODE_EXTRA_CA_CERTS
 *
 * Exit status: 0 when every phase passed; otherwise the status of the first failed phase (a
 * failed lint still lets the tests run, so one run reports both; a failed test group, the first
 * failed group's status). The last line names the phases
 * that failed. Plain ESM, no dependencies.
 */
import { spawnSync } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { delimiter, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from './build.mjs';
import { groups, posix, readJson, TIMES } from './test-groups.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const started = Date.now();

/**
 * Program → how to find it, and the Debian package that provides it (`library`: a file that must
 * exist, not an executable).
 */
const PROGRAMS = [
  { name: 'ssh', package: 'openssh-client' },
  { name: 'scp', package: 'openssh-client' },
  { name: 'ssh-keygen', package: 'openssh-client' },
  { name: 'sshd', path: '/usr/sbin/sshd', package: 'openssh-server' },
  { name: 'rsync', package: 'rsync' },
  { name: 'redis-server', package: 'redis-server' },
  { name: 'nc', package: 'netcat-openbsd' },
  { name: 'autossh', package: 'autossh' },
  { name: 'systemd-analyze', package: 'systemd' },
  { name: 'asciinema', package: 'asciinema' },
  { name: 'ip', package: 'iproute2' },
  { name: 'iptables', path: '/usr/sbin/iptables', package: 'iptables' },
  { name: 'unshare', package: 'util-linux' },
  { name: 'zsh', package: 'zsh' },
  { name: 'man', package: 'man-db' },
  { name: 'curl', package: 'curl' },
  { name: 'chromium', path: '/usr/bin/chromium', package: 'chromium' },
  // test/shim-arm64: the native byte path cross-compiled for arm64 and run by arm64 Node
  { name: 'aarch64-linux-gnu-gcc', package: 'gcc-aarch64-linux-gnu' },
  { name: 'qemu-aarch64', package: 'qemu-user' },
  {
    name: 'ld-linux-aarch64.so.1',
    path: '/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1',
    library: true,
    package: 'libc6-dev-arm64-cross',
  },
  {
    name: 'libstdc++.so.6 (arm64)',
    path: '/usr/aarch64-linux-gnu/lib/libstdc++.so.6',
    library: true,
    package: 'libstdc++6-arm64-cross',
  },
];
const APT_PACKAGES = [
  'openssh-client',
  'openssh-server',
  'rsync',
  'redis-server',
  'netcat-openbsd',
  'autossh',
  'systemd',
  'asciinema',
  'iproute2',
  'iptables',
  'util-linux',
  'zsh',
  'man-db',
  'curl',
  'chromium',
];

function log(line) {
  process.stdout.write(`\n== test.mjs: ${line}\n`);
}

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findInPath(name) {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  return dirs.filter(Boolean).some((dir) => isExecutable(join(dir, name)));
}

function missingPrograms() {
  const present = (p) => (p.library ? existsSync(p.path) : isExecutable(p.path));
  return PROGRAMS.filter((p) => !(p.path ? present(p) : findInPath(p.name)));
}

/** Runs a command with inherited stdio; resolves to its exit status (128+n for a signal). */
function run(cmd, args, opts = {}) {
  const result = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (result.error) {
    process.stderr.write(`test.mjs: cannot run ${cmd}: ${result.error.message}\n`);
    return 127;
  }
  if (result.signal) return 128 + (osConstants.signals[result.signal] ?? 1);
  return result.status ?? 1;
}

function describe(programs) {
  return programs.map((p) => `${p.path ?? p.name} (package ${p.package})`).join(', ');
}

function prerequisites() {
  let missing = missingPrograms();
  if (missing.length === 0) return 0;
  log(`missing: ${describe(missing)}`);
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !findInPath('apt-get')) {
    process.stderr.write(
      `test.mjs: cannot install them (${isRoot ? 'no apt-get' : 'not root'}); ` +
        `install ${[...new Set(missing.map((p) => p.package))].join(' ')} and run again\n`,
    );
    return 1;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  log('installing with apt-get');
  if (run('apt-get', ['update'], { env }) !== 0) return 1;
  if (run('apt-get', ['install', '-y', ...APT_PACKAGES], { env }) !== 0) return 1;
  missing = missingPrograms();
  if (missing.length > 0) {
    process.stderr.write(`test.mjs: still missing after apt-get install: ${describe(missing)}\n`);
    return 1;
  }
  return 0;
}

/** The project-local binary if installed (what npx would pick), else through npx. */
function localBin(name, args) {
  const bin = join(root, 'node_modules', '.bin', name);
  return existsSync(bin) ? [bin, args] : ['npx', [name, ...args]];
}

function lint() {
  return run(...localBin('biome', ['check', '.']));
}

/** Compiled test files under dist/, skipping ones whose source was deleted (stale output). */
function testFiles() {
  const dist = join(root, 'dist');
  const found = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules') walk(path);
      } else if (entry.name.endsWith('.test.js')) {
        found.push(relative(root, path));
      }
    }
  };
  if (existsSync(dist)) walk(dist);
  const fresh = found.filter((file) =>
    existsSync(join(root, file.slice(`dist${sep}`.length).replace(/\.js$/, '.ts'))),
  );
  if (fresh.length < found.length) {
    log(`skipping ${found.length - fresh.length} stale compiled test file(s) with no .ts source`);
  }
  return fresh.sort();
}

const RUNNER = join(root, 'scripts', 'test-run.mjs');

/**
 * Runs one group through scripts/test-run.mjs (node:test's run(), the files in the group's
 * order); returns its exit status and its tally (test-tally.mjs). `--test-name-pattern` goes to
 * the runner, other arguments starting with '-' to its node, whose flags reach every test file.
 */
function runGroup(group, nodeArgs) {
  const tallyDir = mkdtempSync(join(tmpdir(), 'burrow-tally-'));
  const tallyFile = join(tallyDir, 'tally.json');
  log(`tests: ${group.name}, ${group.files.length} file(s), ${group.concurrency} at a time`);
  const { NODE_EXTRA_CA_CERTS: bundle, ...env } = process.env;
  if (bundle) env.BURROW_TEST_NODE_EXTRA_CA_CERTS = bundle;
  const patterns = nodeArgs.filter((a) => a.startsWith('--test-name-pattern='));
  const flags = nodeArgs.filter((a) => !a.startsWith('--test-name-pattern='));
  const status = run(
    process.execPath,
    [
      ...flags,
      RUNNER,
      ...['--concurrency', String(group.concurrency), '--tally', tallyFile],
      ...patterns,
      ...group.files,
    ],
    { env },
  );
  let tally = { counts: {}, files: {} };
  try {
    tally = JSON.parse(readFileSync(tallyFile, 'utf8'));
  } catch {
    // the runner died before it wrote its tally: its status says so
  } finally {
    rmSync(tallyDir, { recursive: true, force: true });
  }
  return { status, tally };
}

function tests(extra) {
  const filters = extra.filter((arg) => !arg.startsWith('-'));
  const nodeArgs = extra.filter((arg) => arg.startsWith('-'));
  const files = testFiles().filter(
    (file) => filters.length === 0 || filters.some((f) => file.includes(f)),
  );
  if (files.length === 0) {
    process.stderr.write(
      `test.mjs: no test files under dist/${filters.length ? ` matching ${filters.join(', ')}` : ''}\n`,
    );
    return 1;
  }
  log(`running ${files.length} test file(s)`);
  let status = 0;
  const counts = {};
  const times = {};
  const summary = [];
  for (const group of groups(files)) {
    const groupStarted = Date.now();
    const result = runGroup(group, nodeArgs);
    status ||= result.status;
    for (const [name, n] of Object.entries(result.tally.counts)) {
      counts[name] = (counts[name] ?? 0) + n;
    }
    for (const [file, seconds] of Object.entries(result.tally.files)) times[posix(file)] = seconds;
    const took = ((Date.now() - groupStarted) / 1000).toFixed(1);
    summary.push(`${group.name} ${took} s${result.status === 0 ? '' : ` (exit ${result.status})`}`);
  }
  try {
    writeFileSync(TIMES, `${JSON.stringify({ ...readJson(TIMES), ...times })}\n`);
  } catch {
    // only an ordering hint
  }
  const slowest = Object.entries(times)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([file, seconds]) => `${file.replace(/^dist\//, '')} ${seconds.toFixed(1)} s`);
  log(`groups: ${summary.join(', ')}`);
  if (slowest.length > 0) log(`slowest files: ${slowest.join(', ')}`);
  const c = (name) => counts[name] ?? 0;
  log(
    `all groups: tests ${c('tests')}, suites ${c('suites')}, pass ${c('pass')}, fail ${c('fail')}, ` +
      `cancelled ${c('cancelled')}, skipped ${c('skipped')}, todo ${c('todo')}`,
  );
  return status;
}

async function main() {
  const extra = process.argv.slice(2);
  const failed = [];
  let status = 0;
  const phase = async (name, fn) => {
    log(name);
    const code = await fn();
    if (code !== 0) {
      failed.push(name);
      status ||= code;
    }
    return code === 0;
  };
  const finish = () => {
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    process.stdout.write(
      failed.length === 0
        ? `\ntest.mjs: all phases passed in ${seconds} s\n`
        : `\ntest.mjs: FAILED phase(s): ${failed.join(', ')} (after ${seconds} s)\n`,
    );
    process.exitCode = status;
  };

  if (!(await phase('prerequisites', prerequisites)) || !(await phase('build', build))) {
    return finish();
  }
  if (process.env.BURROW_TEST_SKIP_LINT === '1') log('lint skipped (BURROW_TEST_SKIP_LINT=1)');
  else await phase('lint', lint);
  await phase('tests', () => tests(extra));
  return finish();
}

await main();
