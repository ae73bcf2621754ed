import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Frame } from './frames.js';
import { type LocalCommand, type LocalEvent, LocalMachine } from './local-machine.js';
import { FIRST_RETRY_STEP_MS, SIGNAL_FORWARD_GRACE_MS } from './timings.js';

const WINDOW = 60_000;
const welcome: Frame = { type: 'welcome', resumed: false, stdinReceived: 5 };
const data: Frame = { type: 'data', stream: 1, offset: 0, payload: Buffer.from('hi') };
const exit0: Frame = { type: 'exit', code: 0, signal: null };
const NOT_BURROW =
  ': is burrow installed and on the remote PATH? (BURROW_SHIM_REMOTE sets the command)';

/** An event, and the clock when it happens (ms; the machine starts at 0). */
type Step = LocalEvent | [LocalEvent, number];

/** Runs `steps` on a new machine (random() = 0.5); the commands of every step, in order. */
function run(steps: Step[]): LocalCommand[] {
  const m = new LocalMachine(
    { remote: 'burrow shim --serve', resumeWindowMs: WINDOW },
    () => 0.5,
    0,
  );
  const out: LocalCommand[] = [];
  for (const s of steps) {
    const [event, now] = Array.isArray(s) ? s : [s, 0];
    out.push(...m.step(event, now));
  }
  return out;
}

const start: LocalEvent = { type: 'start' };
const frame = (attempt: number, f: Frame): LocalEvent => ({ type: 'frame', attempt, frame: f });
const exited = (attempt: number, code: number | null, heard = true): LocalEvent => ({
  type: 'ssh-exited',
  attempt,
  code,
  heard,
});
const connected = [start, frame(1, welcome)];
const ATTACHED: LocalCommand[] = [
  { type: 'connect', attempt: 1, mode: 'new' },
  { type: 'attach', attempt: 1, stdinReceived: 5 },
];

describe('LocalMachine', () => {
  const table: { name: string; steps: Step[]; want: LocalCommand[] }[] = [
    {
      name: 'start: one ssh with a new hello; the welcome attaches the streams',
      steps: connected,
      want: ATTACHED,
    },
    {
      name: 'streams data, answers pings, ignores pongs',
      steps: [
        ...connected,
        frame(1, data),
        frame(1, { type: 'ping', nonce: 9 }),
        frame(1, { type: 'pong', nonce: 1 }),
      ],
      want: [
        ...ATTACHED,
        { type: 'deliver', attempt: 1, frame: data },
        { type: 'send', attempt: 1, frame: { type: 'pong', nonce: 9 } },
      ],
    },
    {
      name: 'exits with the status once the exit frame came and the output is delivered',
      steps: [
        ...connected,
        frame(1, { type: 'exit', code: 42, signal: null }),
        { type: 'incoming-done' },
      ],
      want: [...ATTACHED, { type: 'hang-up', attempt: 1 }, { type: 'exit', code: 42 }],
    },
    {
      name: 'a command killed by a signal: 128 + n, whichever comes first',
      steps: [
        ...connected,
        { type: 'incoming-done' },
        frame(1, { type: 'exit', code: null, signal: 'SIGTERM' }),
      ],
      want: [...ATTACHED, { type: 'hang-up', attempt: 1 }, { type: 'exit', code: 143 }],
    },
    {
      name: 'remote not burrow: its first bytes are quoted, at once, no retry',
      steps: [start, { type: 'garbled', attempt: 1, notBurrow: 'Welcome!' }],
      want: [
        { type: 'connect', attempt: 1, mode: 'new' },
        { type: 'kill', attempt: 1 },
        {
          type: 'exit',
          code: 255,
          message:
            'the remote side did not answer as burrow shim (is burrow on the remote PATH?); it sent: "Welcome!"',
        },
      ],
    },
    {
      name: 'remote shell cannot run the serving command (127): one line, no retry',
      steps: [start, exited(1, 127, false)],
      want: [
        { type: 'connect', attempt: 1, mode: 'new' },
        { type: 'detach' },
        {
          type: 'exit',
          code: 255,
          message: `the remote shell could not run "burrow shim --serve" (exit 127)${NOT_BURROW}`,
        },
      ],
    },
    {
      name: 'remote command ends silently (0): not burrow, one line',
      steps: [start, exited(1, 0, false)],
      want: [
        { type: 'connect', attempt: 1, mode: 'new' },
        { type: 'detach' },
        {
          type: 'exit',
          code: 255,
          message: `the remote command "burrow shim --serve" ended (exit 0) without answering as burrow shim${NOT_BURROW}`,
        },
      ],
    },
    {
      name: "repeated ssh failure (255): four tries, 250·n ms apart, then ssh's own line stands",
      steps: [
        start,
        exited(1, 255, false),
        { type: 'timer', timer: 1 },
        exited(2, 255, false),
        { type: 'timer', timer: 2 },
        exited(3, 255, false),
        { type: 'timer', timer: 3 },
        exited(4, 255, false),
      ],
      want: [
        { type: 'connect', attempt: 1, mode: 'new' },
        { type: 'detach' },
        { type: 'wait', timer: 1, ms: FIRST_RETRY_STEP_MS },
        { type: 'connect', attempt: 2, mode: 'new' },
        { type: 'detach' },
        { type: 'wait', timer: 2, ms: 2 * FIRST_RETRY_STEP_MS },
        { type: 'connect', attempt: 3, mode: 'new' },
        { type: 'detach' },
        { type: 'wait', timer: 3, ms: 3 * FIRST_RETRY_STEP_MS },
        { type: 'connect', attempt: 4, mode: 'new' },
        { type: 'detach' },
        { type: 'exit', code: 255 },
      ],
    },
    {
      name: 'first connection failing otherwise: the status is named after the last try',
      steps: [
        start,
        exited(1, 1),
        { type: 'timer', timer: 1 },
        exited(2, 1),
        { type: 'timer', timer: 2 },
        exited(3, 1),
        { type: 'timer', timer: 3 },
        exited(4, 1),
      ],
      want: [
        { type: 'connect', attempt: 1, mode: 'new' },
        { type: 'detach' },
        { type: 'wait', timer: 1, ms: 250 },
        { type: 'connect', attempt: 2, mode: 'new' },
        { type: 'detach' },
        { type: 'wait', timer: 2, ms: 500 },
        { type: 'connect', attempt: 3, mode: 'new' },
        { type: 'detach' },
        { type: 'wait', timer: 3, ms: 750 },
        { type: 'connect', attempt: 4, mode: 'new' },
        { type: 'detach' },
        { type: 'exit', code: 255, message: 'ssh exited with status 1' },
      ],
    },
    {
      name: 'session-exists before any welcome: our hello got through; resume at once',
      steps: [
        start,
        frame(1, { type: 'refuse', code: 'session-exists', message: 'started already' }),
        exited(1, 255),
        { type: 'timer', timer: 1 },
      ],
      want: [
        { type: 'connect', attempt: 1, mode: 'new' },
        { type: 'kill', attempt: 1 },
        { type: 'detach' },
        { type: 'wait', timer: 1, ms: 0 },
        { type: 'connect', attempt: 2, mode: 'resume' },
      ],
    },
    {
      name: 'any other refusal ends the shim with it',
      steps: [start, frame(1, { type: 'refuse', code: 'spawn-failed', message: 'no sftp-server' })],
      want: [
        { type: 'connect', attempt: 1, mode: 'new' },
        { type: 'kill', attempt: 1 },
        {
          type: 'exit',
          code: 255,
          message: 'the remote refused the session: spawn-failed: no sftp-server',
        },
      ],
    },
    {
      name: 'a first frame that is not the welcome: that ssh is killed, its later frames ignored',
      steps: [start, frame(1, data), frame(1, welcome)],
      want: [
        { type: 'connect', attempt: 1, mode: 'new' },
        { type: 'kill', attempt: 1 },
      ],
    },
    {
      name: 'lost after the welcome: reconnects at once, then with backoff, resuming',
      steps: [
        ...connected,
        [exited(1, 255), 1000],
        [{ type: 'timer', timer: 1 }, 1000],
        [exited(2, 255), 1100],
        [{ type: 'timer', timer: 2 }, 1350],
        [frame(3, welcome), 1400],
        [exited(3, 255), 2000],
      ],
      want: [
        ...ATTACHED,
        { type: 'detach' },
        { type: 'say', line: 'connection lost; reconnecting' },
        { type: 'wait', timer: 1, ms: 0 },
        { type: 'connect', attempt: 2, mode: 'resume' },
        { type: 'detach' },
        // full jitter: random() 0.5 of the 500 ms window
        { type: 'say', line: 'connection lost; reconnecting in 250 ms' },
        { type: 'wait', timer: 2, ms: 250 },
        { type: 'connect', attempt: 3, mode: 'resume' },
        { type: 'attach', attempt: 3, stdinReceived: 5 },
        { type: 'detach' },
        // the welcome reset the count: at once again
        { type: 'say', line: 'connection lost; reconnecting' },
        { type: 'wait', timer: 3, ms: 0 },
      ],
    },
    {
      name: 'resume window: a wait never goes past it, and a loss after it gives up',
      steps: [
        [start, 0],
        [frame(1, welcome), 100],
        [exited(1, 255), 200],
        [{ type: 'timer', timer: 1 }, 200],
        [exited(2, 255), WINDOW - 50],
        [{ type: 'timer', timer: 2 }, WINDOW + 100],
        [exited(3, 255), WINDOW + 100],
      ],
      want: [
        ...ATTACHED,
        { type: 'detach' },
        { type: 'say', line: 'connection lost; reconnecting' },
        { type: 'wait', timer: 1, ms: 0 },
        { type: 'connect', attempt: 2, mode: 'resume' },
        { type: 'detach' },
        { type: 'say', line: 'connection lost; reconnecting in 250 ms' },
        { type: 'wait', timer: 2, ms: 150 },
        { type: 'connect', attempt: 3, mode: 'resume' },
        { type: 'detach' },
        {
          type: 'exit',
          code: 255,
          message: 'the connection broke and could not be resumed within the resume window',
        },
      ],
    },
    {
      name: 'signal: passed on, then 128 + n once written; a second one is passed on too',
      steps: [
        ...connected,
        { type: 'signal', name: 'SIGINT', status: 130 },
        { type: 'signal', name: 'SIGTERM', status: 143 },
        { type: 'signal-sent' },
        { type: 'signal-sent' },
      ],
      want: [
        ...ATTACHED,
        { type: 'forward-signal', attempt: 1, name: 'SIGINT' },
        { type: 'wait', timer: 1, ms: SIGNAL_FORWARD_GRACE_MS },
        { type: 'forward-signal', attempt: 1, name: 'SIGTERM' },
        { type: 'exit', code: 130 },
      ],
    },
    {
      name: 'signal: the grace ends the wait for a stuck write; a pending reconnect is dropped',
      steps: [
        ...connected,
        exited(1, 255),
        { type: 'signal', name: 'SIGHUP', status: 129 },
        { type: 'timer', timer: 1 },
        { type: 'timer', timer: 2 },
      ],
      want: [
        ...ATTACHED,
        { type: 'detach' },
        { type: 'say', line: 'connection lost; reconnecting' },
        { type: 'wait', timer: 1, ms: 0 },
        { type: 'forward-signal', attempt: 1, name: 'SIGHUP' },
        { type: 'wait', timer: 2, ms: SIGNAL_FORWARD_GRACE_MS },
        { type: 'exit', code: 129 },
      ],
    },
    {
      name: 'a protocol error ends the shim with one line',
      steps: [...connected, { type: 'protocol-error', attempt: 1, message: 'offset 9 ahead of 0' }],
      want: [
        ...ATTACHED,
        { type: 'kill', attempt: 1 },
        { type: 'exit', code: 255, message: 'protocol error: offset 9 ahead of 0' },
      ],
    },
    {
      name: 'ssh cannot be run: its message, and nothing after the exit',
      steps: [
        start,
        { type: 'ssh-failed', message: 'cannot run ssh: ENOENT' },
        exited(1, null),
        start,
      ],
      want: [
        { type: 'connect', attempt: 1, mode: 'new' },
        { type: 'exit', code: 255, message: 'cannot run ssh: ENOENT' },
      ],
    },
    {
      name: "an old attempt's frames and exit, and stale timers, are ignored",
      steps: [
        ...connected,
        exited(1, 255),
        { type: 'timer', timer: 1 },
        frame(1, exit0),
        exited(1, 255),
        { type: 'timer', timer: 1 },
      ],
      want: [
        ...ATTACHED,
        { type: 'detach' },
        { type: 'say', line: 'connection lost; reconnecting' },
        { type: 'wait', timer: 1, ms: 0 },
        { type: 'connect', attempt: 2, mode: 'resume' },
      ],
    },
  ];
  for (const row of table) {
    it(row.name, () => assert.deepEqual(run(row.steps), row.want));
  }
});
