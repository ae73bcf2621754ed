/**
 * How `npm test` (scripts/test.mjs) groups the test files: which run alone, which two at a time
 * because they bound a time, and the rest, each group's files started longest first. Plain ESM.
 */
import { readFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * Test files that run alone, one at a time, with no other test file running. Matched as
 * substrings of the compiled path.
 */
const ALONE = [
  // 2 minutes of 1 000 churning devices: it loads the machine itself and judges relay1's memory
  'test/soak.test',
  // floods and connection storms: a legitimate client must get through within a bound
  'test/listen-backlog.test',
  'test/relay-flood.test',
  'test/relay-audit-flood.test',
];

/**
 * Test files that bound how long a failover, a fault or a clock takes (seconds, not minutes): they
 * run two at a time among themselves only, never beside the CPU-heavy rest.
 */
const TIMED = [
  'test/netns-', // packet loss, partitions and delay on a veth, keepalive bounds
  'test/cluster-faults.test', // kill -9 / SIGSTOP of the holder: attempts < 3 s, moves < 6 s
  'test/cluster-sentinel.test', // a Sentinel failover under load, nothing hangs
  'test/cluster-clock.test', // heartbeats and TTLs of a few seconds
  'test/cluster-registry-unavailable.test', // refusals within the lookup budget + 1 s
  'test/relay-clock.test', // penalties measured on a monotonic clock
  'test/relay-liveness.test', // keepalive, login grace time
  'test/agent-failover.test', // moves within ~1 s of kill -9, blackhole within the keepalive bound
  'test/relay-wire-fuzz.test', // every request answered within a bound
];

/** A path with / separators, as test-tally.mjs and the lists above spell them. */
export const posix = (file) => file.split(sep).join('/');

/**
 * Per-file seconds, to start the longest files first: those of the last local run (written by
 * tests() into dist/, which git ignores) over a committed baseline (scripts/test-times.json, a
 * serial run's times; refresh it by copying dist/.test-times.json when files are added or change
 * much). Only an ordering hint: a file in neither counts as long.
 */
export const TIMES = join(root, 'dist', '.test-times.json');
const BASELINE_TIMES = join(root, 'scripts', 'test-times.json');

export function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return {};
  }
}

function readTimes() {
  return { ...readJson(BASELINE_TIMES), ...readJson(TIMES) };
}

/**
 * The files in three groups, run one group after the other, each group's files started longest
 * first (readTimes()):
 *   parallel  everything not listed above (unit tests beside the code in src/ and bench/, the
 *             integration tests in test/; docs.test and install.test among them, whose
 *             `npm install -g .` and `npm pack` rebuild dist/ while other files load it: the build
 *             renames each file into place, so a reader sees it whole): 3 at a time
 *             (BURROW_TEST_CONCURRENCY=N to change; 1 runs the whole suite one file at a time,
 *             as a check for interference)
 *   timed     TIMED, 2 at a time (1 when BURROW_TEST_CONCURRENCY=1)
 *   alone     ALONE, one at a time
 * Files of one group are independent: ports are 0 or probed, temp dirs are per test, network
 * namespace names and process tokens carry the test process's pid.
 */
export function groups(files) {
  const jobs = Math.max(1, Math.floor(Number(process.env.BURROW_TEST_CONCURRENCY)) || 3);
  const times = readTimes();
  const listed = (list) => (file) => list.some((s) => posix(file).includes(s));
  const longestFirst = (list) =>
    list
      .map((file) => ({ file, t: times[posix(file)] ?? Number.POSITIVE_INFINITY }))
      .sort((a, b) => b.t - a.t || a.file.localeCompare(b.file))
      .map(({ file }) => file);
  const alone = listed(ALONE);
  const timed = (file) => !alone(file) && listed(TIMED)(file);
  return [
    { name: 'parallel', concurrency: jobs, files: files.filter((f) => !alone(f) && !timed(f)) },
    { name: 'timed', concurrency: Math.min(2, jobs), files: files.filter(timed) },
    { name: 'alone', concurrency: 1, files: files.filter(alone) },
  ]
    .map((group) => ({ ...group, files: longestFirst(group.files) }))
    .filter((group) => group.files.length > 0);
}
