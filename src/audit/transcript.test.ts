import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  createTranscript,
  type SessionInfo,
  TRANSCRIPT_FORMATS,
  type Transcript,
  type TranscriptFormat,
} from './transcript.js';

const execFileP = promisify(execFile);
const T0 = Date.parse('2026-11-23T16:20:42.123Z');
const info: SessionInfo = {
  user: 'alice',
  fingerprint: 'SHA256:q3Rn',
  client: '203.0.113.7:50022',
  shell: '/bin/bash',
  pty: { cols: 80, rows: 24, term: 'xterm-256color' },
};
const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => Buffer.from(p)));

/** [ms after T0, what happens then] */
type Step = [ms: number, act: (t: Transcript) => void];

const session: Step[] = [
  [0, (t) => t.start(info)],
  [512, (t) => t.input(Buffer.from('ls\r'))],
  [530, (t) => t.output(Buffer.from('total 0\r\n'))],
  [1000, (t) => t.output(bytes('caf', [0xc3]))], // "é" split across two chunks
  [1001, (t) => t.output(bytes([0xa9], '\r\n'))],
  [1500, (t) => t.output(bytes([0xe2, 0x82]))], // no complete character: no event
  [1501, (t) => t.output(bytes([0xac], ' \x1b[1mbold\x1b[0m\t\x07\r\n'))],
  [2000, (t) => t.resize(120, 40)],
  [2250, (t) => t.input(Buffer.from('\x03'))],
  [2300, (t) => t.output(bytes('\u009b2J \u202egnp.exe', [0xff], '\r\n'))],
  [2400, (t) => t.error(bytes('warn', [0xf0, 0x9f]))], // cut short: U+FFFD at end()
  [2399, (t) => t.output(Buffer.from('late clock'))], // the clock stepped back
  [3000, (t) => t.end({ code: 0 })],
];

const want: Record<TranscriptFormat, string[]> = {
  text: [
    '2026-11-23T16:20:42.123Z +0.000 start {"user":"alice","fingerprint":"SHA256:q3Rn",' +
      '"client":"203.0.113.7:50022","command":null,"shell":"/bin/bash",' +
      '"pty":{"cols":80,"rows":24,"term":"xterm-256color"}}',
    '2026-11-23T16:20:42.635Z +0.512 in "ls\\r"',
    '2026-11-23T16:20:42.653Z +0.530 out "total 0\\r\\n"',
    '2026-11-23T16:20:43.123Z +1.000 out "caf"',
    '2026-11-23T16:20:43.124Z +1.001 out "é\\r\\n"',
    '2026-11-23T16:20:43.624Z +1.501 out "€ \\u001b[1mbold\\u001b[0m\\t\\u0007\\r\\n"',
    '2026-11-23T16:20:44.123Z +2.000 resize "120x40"',
    '2026-11-23T16:20:44.373Z +2.250 in "\\u0003"',
    '2026-11-23T16:20:44.423Z +2.300 out "\\u009b2J \\u202egnp.exe\ufffd\\r\\n"',
    '2026-11-23T16:20:44.523Z +2.400 err "warn"',
    '2026-11-23T16:20:44.522Z +2.400 out "late clock"',
    '2026-11-23T16:20:45.123Z +3.000 err "\ufffd"',
    '2026-11-23T16:20:45.123Z +3.000 end {"code":0,"signal":null}',
  ],
  asciicast: [
    '{"version": 2, "width": 80, "height": 24, "timestamp": 1795450842, "command": "/bin/bash", ' +
      '"title": "otssh alice (SHA256:q3Rn) from 203.0.113.7:50022", ' +
      '"env": {"SHELL": "/bin/bash", "TERM": "xterm-256color"}}',
    '[0.512, "i", "ls\\r"]',
    '[0.53, "o", "total 0\\r\\n"]',
    '[1, "o", "caf"]',
    '[1.001, "o", "é\\r\\n"]',
    '[1.501, "o", "€ \\u001b[1mbold\\u001b[0m\\t\\u0007\\r\\n"]',
    '[2, "r", "120x40"]',
    '[2.25, "i", "\\u0003"]',
    '[2.3, "o", "\u009b2J \u202egnp.exe\ufffd\\r\\n"]',
    '[2.4, "o", "warn"]',
    '[2.4, "o", "late clock"]',
    '[3, "o", "\ufffd"]',
  ],
};

/** A sink that keeps what it is given. */
function memorySink(): { sink: Writable; text: () => string } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { sink, text: () => chunks.join('') };
}

/** Plays steps against a fake clock; returns the transcript (not closed). */
function play(t: Transcript, steps: Step[], clock: { ms: number }): Transcript {
  for (const [ms, act] of steps) {
    clock.ms = T0 + ms;
    act(t);
  }
  return t;
}

async function record(format: TranscriptFormat, steps: Step[]): Promise<string> {
  const { sink, text } = memorySink();
  const clock = { ms: T0 };
  const t = play(createTranscript(format, sink, { now: () => clock.ms }), steps, clock);
  await t.close();
  assert.equal(t.failed, undefined);
  return text();
}

describe('createTranscript writes exactly', () => {
  for (const format of TRANSCRIPT_FORMATS) {
    it(`${format}: a scripted pty session`, async () => {
      assert.deepEqual((await record(format, session)).split('\n'), [...want[format], '']);
    });
  }

  it('asciicast: a session without a pty gets an 80x24 header, no TERM, stderr as "o"', async () => {
    const noPty: SessionInfo = { ...info, command: 'uptime', pty: undefined };
    const lines = (
      await record('asciicast', [
        [0, (t) => t.start(noPty)],
        [100, (t) => t.output(Buffer.from('up 3 days\n'))],
        [150, (t) => t.error(Buffer.from('uptime: warning\n'))],
        [200, (t) => t.end({ signal: 'TERM' })],
      ])
    ).split('\n');
    assert.deepEqual(lines, [
      '{"version": 2, "width": 80, "height": 24, "timestamp": 1795450842, "command": "uptime", ' +
        '"title": "otssh alice (SHA256:q3Rn) from 203.0.113.7:50022", "env": {"SHELL": "/bin/bash"}}',
      '[0.1, "o", "up 3 days\\n"]',
      '[0.15, "o", "uptime: warning\\n"]',
      '',
    ]);
  });

  it('text: an exec session records its command and a signal', async () => {
    const text = await record('text', [
      [0, (t) => t.start({ ...info, command: 'rm -rf "$X"\x1b]0;x\x07', pty: undefined })],
      [7, (t) => t.end({ signal: 'KILL' })],
    ]);
    assert.equal(
      text,
      '2026-11-23T16:20:42.123Z +0.000 start {"user":"alice","fingerprint":"SHA256:q3Rn",' +
        '"client":"203.0.113.7:50022","command":"rm -rf \\"$X\\"\\u001b]0;x\\u0007",' +
        '"shell":"/bin/bash","pty":null}\n' +
        '2026-11-23T16:20:42.130Z +0.007 end {"code":null,"signal":"KILL"}\n',
    );
  });

  it('text: every line parses back to exactly the decoded text', async () => {
    const lines = (await record('text', session)).trimEnd().split('\n');
    const outs = lines.filter((l) => / out "/.test(l)).map((l) => JSON.parse(l.split(' out ')[1]!));
    assert.equal(outs.join('').slice(0, 13), 'total 0\r\ncafé');
    assert.ok(outs.includes('\u009b2J \u202egnp.exe\ufffd\r\n'));
  });
});

describe('Transcript failures', () => {
  /** A transcript whose onFailure calls are collected; `failure` resolves on the first. */
  function watched(format: TranscriptFormat, sink: NodeJS.WritableStream) {
    const failures: Error[] = [];
    let first!: (err: Error) => void;
    const failure = new Promise<Error>((resolve) => {
      first = resolve;
    });
    const onFailure = (err: Error) => {
      failures.push(err);
      first(err);
    };
    const t = createTranscript(format, sink, { now: () => T0, onFailure });
    return { t, failures, failure };
  }
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  for (const format of TRANSCRIPT_FORMATS) {
    it(`${format}: writing to /dev/full fails with ENOSPC, once; later calls are no-ops`, async () => {
      const { t, failures, failure } = watched(format, createWriteStream('/dev/full'));
      t.start(info);
      t.output(Buffer.from('total 0\r\n'));
      const err = (await failure) as NodeJS.ErrnoException;
      assert.equal(err.code, 'ENOSPC');
      assert.equal(t.failed, err);
      t.input(Buffer.from('more'));
      t.resize(1, 1);
      t.end({ code: 1 });
      await t.close();
      await settle();
      assert.deepEqual(failures, [err]);
    });
  }

  it('a write error reported both by callback and "error" event is reported once', async () => {
    const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
    const sink = new Writable({ write: (_chunk, _encoding, cb) => cb(epipe) });
    const { t, failures, failure } = watched('text', sink);
    t.start(info);
    assert.equal(await failure, epipe);
    t.output(Buffer.from('x'));
    await t.close();
    await settle();
    assert.deepEqual(failures, [epipe]);
  });

  const throwingSink = () =>
    new Writable({
      write() {
        throw new Error('boom');
      },
    });
  const misuse: {
    title: string;
    sink?: () => Writable;
    steps: ((t: Transcript) => void)[];
    message: RegExp;
  }[] = [
    {
      title: 'output before start()',
      steps: [(t) => t.output(Buffer.from('x'))],
      message: /event before start\(\)/,
    },
    {
      title: 'start() twice',
      steps: [(t) => t.start(info), (t) => t.start(info)],
      message: /start\(\) called twice/,
    },
    {
      title: 'a sink whose write throws',
      sink: throwingSink,
      steps: [(t) => t.start(info)],
      message: /boom/,
    },
  ];
  for (const { title, sink, steps, message } of misuse) {
    it(`${title} fails the transcript without throwing`, async () => {
      const { t, failures, failure } = watched('text', sink?.() ?? memorySink().sink);
      for (const step of steps) assert.doesNotThrow(() => step(t));
      assert.match((await failure).message, message);
      assert.match(t.failed?.message ?? '', message);
      await settle();
      assert.equal(failures.length, 1);
    });
  }

  it('after close() nothing throws, nothing is written, nothing fails', async () => {
    const { sink, text } = memorySink();
    const { t, failures } = watched('text', sink);
    t.start(info);
    await t.close();
    const before = text();
    assert.doesNotThrow(() => {
      t.start(info);
      t.input(Buffer.from('a'));
      t.output(Buffer.from('b'));
      t.error(Buffer.from('c'));
      t.resize(100, 30);
      t.end({ code: 0 });
    });
    assert.equal(await t.close(), undefined);
    await settle();
    assert.equal(text(), before);
    assert.deepEqual(failures, []);
    assert.equal(t.failed, undefined);
  });
});

describe('asciinema 2.2 reads the asciicast', () => {
  const dir = mkdtempSync(join(tmpdir(), 'burrow-transcript-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /**
   * Runs a program in a new session (setsid: no controlling terminal) with stdin at EOF, as CI
   * does; rejects, with its output, unless it exits 0 (or if it is missing: setsid names it).
   */
  async function run(cmd: string, ...args: string[]): Promise<string> {
    const running = execFileP('setsid', ['-w', cmd, ...args], { timeout: 30_000 });
    running.child.stdin?.end();
    return (await running).stdout;
  }

  async function castFile(): Promise<string> {
    const path = join(dir, 'session.cast');
    const clock = { ms: T0 };
    const t = createTranscript('asciicast', createWriteStream(path), { now: () => clock.ms });
    play(t, session, clock);
    clock.ms = T0 + 3100;
    t.input(Buffer.from('typed-only\r')); // "i" events are not played back
    await t.close();
    assert.equal(t.failed, undefined);
    return path;
  }

  it('`asciinema play -s 100` plays it with no terminal, skipping "i" and "r" events', async () => {
    const out = await run('asciinema', 'play', '-s', '100', await castFile());
    assert.ok(out.includes('total 0\r\ncafé\r\n€ \x1b[1mbold'), out);
    assert.ok(out.includes('warnlate clock\ufffd'), out);
    assert.ok(!out.includes('typed-only') && !out.includes('120x40'), out);
  });

  it('`asciinema cat` prints it (under script(1): cat needs a controlling terminal)', async () => {
    const path = await castFile();
    const out = await run('script', '-qec', `asciinema cat '${path}'`, '/dev/null');
    assert.ok(out.includes('total 0\r\ncafé\r\n€ \x1b[1mbold'), out);
    assert.ok(!out.includes('typed-only'), out);
  });
});
