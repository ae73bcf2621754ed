import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DONE_NONCE, type Frame, type HelloFrame } from './frames.js';
import { type HolderCommand, type HolderEvent, HolderMachine } from './holder-machine.js';

const WINDOW = 600_000;
const sessionId = Buffer.alloc(16, 1);
const secret = Buffer.alloc(32, 2);
const newHello: HelloFrame = {
  type: 'hello',
  sessionId,
  secret,
  mode: {
    kind: 'new',
    command: { kind: 'argv', argv: ['cat'] },
    options: { resumeWindowMs: WINDOW, bufferBytes: 1024 },
  },
};
const resume: HelloFrame = {
  type: 'hello',
  sessionId,
  secret,
  mode: { kind: 'resume', stdoutReceived: 7, stderrReceived: 3 },
};
const wrongSecret: HelloFrame = { ...resume, secret: Buffer.alloc(32, 9) };
const otherSession: HelloFrame = { ...resume, sessionId: Buffer.alloc(16, 3) };
const data: Frame = { type: 'data', stream: 0, offset: 0, payload: Buffer.from('x') };
const exit3: Frame & { type: 'exit' } = { type: 'exit', code: 3, signal: null };

/** Runs `events` on a new machine; the commands of every event, in order. */
function run(events: HolderEvent[]): HolderCommand[] {
  const m = new HolderMachine({ sessionId, secret, resumeWindowMs: WINDOW });
  return events.flatMap((e) => m.step(e));
}

const listening: HolderEvent = { type: 'listening' };
const frame = (conn: number, f: Frame): HolderEvent => ({ type: 'frame', conn, frame: f });
const STARTED: HolderCommand[] = [
  { type: 'start-command' },
  { type: 'wait', timer: 1, ms: WINDOW },
];
/** The handed-over channel (conn 1) admitted with the new hello. */
const HANDED: HolderCommand[] = [
  ...STARTED,
  { type: 'admitted', conn: 1 },
  { type: 'cancel', timer: 1 },
  { type: 'welcome', conn: 1, resumed: false },
  { type: 'attach', conn: 1, received: {} },
];
const handedOver: HolderEvent[] = [listening, frame(1, newHello)];

describe('HolderMachine', () => {
  const table: { name: string; events: HolderEvent[]; want: HolderCommand[] }[] = [
    {
      name: 'bound: starts the command and the resume window; the handover is welcomed',
      events: handedOver,
      want: HANDED,
    },
    {
      name: 'the current connection: data delivered, pings answered, signals passed on',
      events: [
        ...handedOver,
        frame(1, data),
        frame(1, { type: 'ping', nonce: 4 }),
        frame(1, { type: 'signal', name: 'SIGINT' }),
        frame(1, { type: 'signal', name: 'SIGKILL' }),
      ],
      want: [
        ...HANDED,
        { type: 'deliver', conn: 1, frame: data },
        { type: 'send', conn: 1, frame: { type: 'pong', nonce: 4 } },
        { type: 'signal-command', name: 'SIGINT' },
      ],
    },
    {
      name: 'lost: detach and the resume window; a resume replaces nothing and gets the offsets',
      events: [...handedOver, { type: 'lost', conn: 1 }, frame(2, resume)],
      want: [
        ...HANDED,
        { type: 'close', conn: 1 },
        { type: 'detach' },
        { type: 'wait', timer: 2, ms: WINDOW },
        { type: 'admitted', conn: 2 },
        { type: 'cancel', timer: 2 },
        { type: 'welcome', conn: 2, resumed: true },
        { type: 'attach', conn: 2, received: { 1: 7, 2: 3 } },
      ],
    },
    {
      name: 'a newer connection replaces the current one; the old one is no longer heard',
      events: [...handedOver, frame(2, resume), frame(1, data), { type: 'lost', conn: 1 }],
      want: [
        ...HANDED,
        { type: 'admitted', conn: 2 },
        { type: 'close', conn: 1 },
        { type: 'welcome', conn: 2, resumed: true },
        { type: 'attach', conn: 2, received: { 1: 7, 2: 3 } },
        { type: 'close', conn: 1 },
      ],
    },
    {
      name: 'refusals: wrong secret, other session, a second new hello; not a hello: closed',
      events: [
        ...handedOver,
        frame(2, wrongSecret),
        frame(2, resume),
        frame(3, otherSession),
        frame(4, newHello),
        frame(5, data),
      ],
      want: [
        ...HANDED,
        {
          type: 'refuse',
          conn: 2,
          code: 'bad-secret',
          message: 'this session does not accept that secret',
        },
        {
          type: 'refuse',
          conn: 3,
          code: 'bad-secret',
          message: 'this session does not accept that secret',
        },
        {
          type: 'refuse',
          conn: 4,
          code: 'session-exists',
          message: 'this session has started already',
        },
        { type: 'close', conn: 5 },
      ],
    },
    {
      name: 'the command could not start: every hello is refused so, and the holder finishes',
      events: [
        listening,
        { type: 'spawn-failed', message: 'ENOENT' },
        frame(1, newHello),
        frame(2, resume),
      ],
      want: [
        ...STARTED,
        {
          type: 'refuse',
          conn: 1,
          code: 'spawn-failed',
          message: 'cannot start the command: ENOENT',
        },
        { type: 'finish', soon: true },
      ],
    },
    {
      name: 'command exit: sent to the current connection, and to the next one admitted',
      events: [
        ...handedOver,
        { type: 'command-exited', frame: exit3 },
        { type: 'lost', conn: 1 },
        frame(2, resume),
      ],
      want: [
        ...HANDED,
        { type: 'send', conn: 1, frame: exit3 },
        { type: 'close', conn: 1 },
        { type: 'detach' },
        { type: 'wait', timer: 2, ms: WINDOW },
        { type: 'admitted', conn: 2 },
        { type: 'cancel', timer: 2 },
        { type: 'welcome', conn: 2, resumed: true },
        { type: 'attach', conn: 2, received: { 1: 7, 2: 3 } },
        { type: 'send', conn: 2, frame: exit3 },
      ],
    },
    {
      name: 'the DONE ping finishes the holder only after the exit; nothing after finish',
      events: [
        ...handedOver,
        frame(1, { type: 'ping', nonce: DONE_NONCE }),
        { type: 'command-exited', frame: exit3 },
        frame(1, { type: 'ping', nonce: DONE_NONCE }),
        frame(1, data),
      ],
      want: [
        ...HANDED,
        { type: 'send', conn: 1, frame: { type: 'pong', nonce: DONE_NONCE } },
        { type: 'send', conn: 1, frame: exit3 },
        { type: 'close', conn: 1 },
        { type: 'finish', soon: false },
      ],
    },
    {
      name: 'resume window expiry: the command is ended and the holder finishes',
      events: [
        ...handedOver,
        { type: 'lost', conn: 1 },
        { type: 'timer', timer: 1 },
        { type: 'timer', timer: 2 },
      ],
      want: [
        ...HANDED,
        { type: 'close', conn: 1 },
        { type: 'detach' },
        { type: 'wait', timer: 2, ms: WINDOW },
        { type: 'end-command' },
        { type: 'finish', soon: false },
      ],
    },
    {
      name: 'resume window expiry after the command exited: nothing to end',
      events: [listening, { type: 'command-exited', frame: exit3 }, { type: 'timer', timer: 1 }],
      want: [...STARTED, { type: 'finish', soon: false }],
    },
    {
      name: 'adoption granted: the pipes become the current connection',
      events: [
        ...handedOver,
        { type: 'adoption', conn: 2, pid: 77, hello: resume },
        { type: 'adopted', conn: 2, channel: 3 },
      ],
      want: [
        ...HANDED,
        { type: 'adopt', conn: 2, pid: 77 },
        { type: 'admitted', conn: 3 },
        { type: 'close', conn: 1 },
        { type: 'welcome', conn: 3, resumed: true },
        { type: 'attach', conn: 3, received: { 1: 7, 2: 3 } },
      ],
    },
    {
      name: 'adoption refused (wrong secret): relayed, and refused on the socket',
      events: [...handedOver, { type: 'adoption', conn: 2, pid: 77, hello: wrongSecret }],
      want: [
        ...HANDED,
        { type: 'relay', conn: 2 },
        {
          type: 'refuse',
          conn: 2,
          code: 'bad-secret',
          message: 'this session does not accept that secret',
        },
      ],
    },
    {
      name: 'adoption refused (the command could not start): relayed, refused, finished',
      events: [
        listening,
        { type: 'spawn-failed', message: 'ENOENT' },
        { type: 'adoption', conn: 1, pid: 77, hello: resume },
      ],
      want: [
        ...STARTED,
        { type: 'relay', conn: 1 },
        {
          type: 'refuse',
          conn: 1,
          code: 'spawn-failed',
          message: 'cannot start the command: ENOENT',
        },
        { type: 'finish', soon: true },
      ],
    },
    {
      name: 'pipes that cannot be opened: relayed on the socket, which is admitted',
      events: [
        ...handedOver,
        { type: 'adoption', conn: 2, pid: 77, hello: resume },
        { type: 'adoption-failed', conn: 2 },
        frame(2, { type: 'ping', nonce: 1 }),
      ],
      want: [
        ...HANDED,
        { type: 'adopt', conn: 2, pid: 77 },
        { type: 'relay', conn: 2 },
        { type: 'admitted', conn: 2 },
        { type: 'close', conn: 1 },
        { type: 'welcome', conn: 2, resumed: true },
        { type: 'attach', conn: 2, received: { 1: 7, 2: 3 } },
        { type: 'send', conn: 2, frame: { type: 'pong', nonce: 1 } },
      ],
    },
    {
      name: 'garbled input closes the connection; a socket failure finishes the holder',
      events: [...handedOver, { type: 'garbled', conn: 1 }, { type: 'server-failed' }],
      want: [
        ...HANDED,
        { type: 'close', conn: 1 },
        { type: 'close', conn: 1 },
        { type: 'finish', soon: false },
      ],
    },
  ];
  for (const row of table) {
    it(row.name, () => assert.deepEqual(run(row.events), row.want));
  }
});
