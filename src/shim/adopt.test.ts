import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  ADOPT_MAGIC,
  ADOPT_REQUEST_LENGTH,
  encodeAdoptRequest,
  type Opening,
  OpeningError,
  type OpeningErrorCode,
  OpeningParser,
  openPipesOf,
} from './adopt.js';
import { encodeFrame, type HelloFrame, MAGIC } from './frames.js';

const hello: HelloFrame = {
  type: 'hello',
  sessionId: Buffer.alloc(16, 1),
  secret: Buffer.alloc(32, 2),
  mode: { kind: 'resume', stdoutReceived: 5, stderrReceived: 0 },
};
const helloBytes = encodeFrame(hello);
const request = Buffer.concat([encodeAdoptRequest(4242), helloBytes]);

/** Pushes `chunks` in order; the opening, once known, or undefined. */
function open(chunks: Buffer[]): Opening | undefined {
  const p = new OpeningParser();
  let o: Opening | undefined;
  for (const c of chunks) {
    o = p.push(c);
    if (o) break;
  }
  return o;
}

/** `bytes` in pieces of `size` (the last may be shorter). */
const split = (bytes: Buffer, size: number) =>
  Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) =>
    bytes.subarray(i * size, (i + 1) * size),
  );

describe('encodeAdoptRequest', () => {
  it('is the magic and the pid as a u32', () => {
    const b = encodeAdoptRequest(0x00301234);
    assert.equal(b.length, ADOPT_REQUEST_LENGTH);
    assert.deepEqual(b.subarray(0, 8), ADOPT_MAGIC);
    assert.equal(b.readUInt32BE(8), 0x00301234);
  });

  for (const pid of [0, -1, 1.5, 2 ** 22 + 1, Number.NaN]) {
    it(`refuses pid ${pid}`, () => assert.throws(() => encodeAdoptRequest(pid), RangeError));
  }

  it('differs from the frame preamble, so a holder from before adoption refuses it', () => {
    assert.equal(ADOPT_MAGIC.length, MAGIC.length);
    assert.notDeepEqual(ADOPT_MAGIC, MAGIC);
  });
});

describe('OpeningParser', () => {
  const cases: { name: string; chunks: Buffer[]; want: Opening | undefined }[] = [
    {
      name: 'an adoption request and its hello in one piece',
      chunks: [request],
      want: { kind: 'adopt', pid: 4242, hello },
    },
    {
      name: 'the same, a byte at a time',
      chunks: split(request, 1),
      want: { kind: 'adopt', pid: 4242, hello },
    },
    {
      name: 'the same, split inside the pid and inside the hello',
      chunks: split(request, 10),
      want: { kind: 'adopt', pid: 4242, hello },
    },
    {
      name: 'a plain hello: plain at its fourth byte, with all bytes so far',
      chunks: split(helloBytes, 1),
      want: { kind: 'plain', head: helloBytes.subarray(0, 4) },
    },
    {
      name: 'a plain hello in one piece',
      chunks: [helloBytes],
      want: { kind: 'plain', head: helloBytes },
    },
    {
      name: 'garbage: plain at once (the frame decoder refuses it later)',
      chunks: [Buffer.from('GET / HTTP/1.1\r\n')],
      want: { kind: 'plain', head: Buffer.from('GET / HTTP/1.1\r\n') },
    },
    {
      name: 'the magic alone: not known yet',
      chunks: [ADOPT_MAGIC],
      want: undefined,
    },
    {
      name: 'the request without its hello: not known yet',
      chunks: [encodeAdoptRequest(7), helloBytes.subarray(0, 20)],
      want: undefined,
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(open(c.chunks), c.want));
  }

  const bad: { name: string; chunks: Buffer[]; code: OpeningErrorCode }[] = [
    {
      name: 'pid 0',
      code: 'bad-pid',
      chunks: [Buffer.concat([ADOPT_MAGIC, Buffer.alloc(4), helloBytes])],
    },
    {
      name: 'a frame other than a hello',
      code: 'not-one-hello',
      chunks: [
        Buffer.concat([
          encodeAdoptRequest(7),
          encodeFrame({ type: 'refuse', code: 'internal', message: 'x' }),
        ]),
      ],
    },
    {
      name: 'bytes after the hello',
      code: 'not-one-hello',
      chunks: [Buffer.concat([request, Buffer.from([0])])],
    },
    {
      name: 'a second frame after the hello',
      code: 'not-one-hello',
      chunks: [Buffer.concat([request, encodeFrame({ type: 'ping', nonce: 1 })])],
    },
    {
      name: 'garbage where the hello should be',
      code: 'bad-frame',
      chunks: [Buffer.concat([encodeAdoptRequest(7), Buffer.from('burrow: not found\n')])],
    },
  ];
  for (const c of bad) {
    it(`refuses ${c.name} (${c.code})`, () =>
      assert.throws(
        () => open(c.chunks),
        (e) => e instanceof OpeningError && e.code === c.code,
      ));
  }

  it('refuses to be pushed after the opening is known', () => {
    const p = new OpeningParser();
    assert.ok(p.push(helloBytes));
    assert.throws(
      () => p.push(Buffer.from('x')),
      (e) => e instanceof OpeningError && e.code === 'read-twice',
    );
  });
});

describe('openPipesOf', () => {
  it("opens a process's stdin and stdout pipes, and nothing that is not a pipe", (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'burrow-adopt-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    // A process whose stdin and stdout are FIFOs, as sshd's pipes are (Node's own are sockets).
    execFileSync('mkfifo', [join(dir, 'in'), join(dir, 'out')]);
    const inFd = openSync(join(dir, 'in'), 'r+');
    const outFd = openSync(join(dir, 'out'), 'r+');
    const withPipes = spawn('sleep', ['30'], { stdio: [inFd, outFd, 'ignore'] });
    const withSockets = spawn('sleep', ['30'], { stdio: ['pipe', 'pipe', 'ignore'] });
    t.after(() => {
      withPipes.kill();
      withSockets.kill();
      closeSync(inFd);
      closeSync(outFd);
    });

    const pipes = openPipesOf(withPipes.pid!);
    assert.ok(pipes, 'the FIFOs were opened');
    assert.equal(fstatSync(pipes.inputFd).ino, fstatSync(inFd).ino);
    assert.equal(fstatSync(pipes.outputFd).ino, fstatSync(outFd).ino);
    closeSync(pipes.inputFd);
    closeSync(pipes.outputFd);

    assert.equal(openPipesOf(withSockets.pid!), undefined, 'sockets are not adopted');
    assert.equal(openPipesOf(2 ** 22), undefined, 'no such process');
  });
});
