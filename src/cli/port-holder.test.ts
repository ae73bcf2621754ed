import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeHolder, listeningInodes, parseProcNetTcp } from './port-holder.js';

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:08AE 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 41877 1 0000000000000000 100 0 0 10 0
   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 337 1 0000000000000000 100 0 0 10 0
   2: 0100007F:08AE 0100007F:D431 01 00000000:00000000 02:00000037 00000000  1000        0 52001 2 0000000000000000 20 4 30 10 -1
   3: 0100007F:9C40 0100007F:08AE 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
garbage line
`;

const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:08AE 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 9001 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 9002 1 0000000000000000 100 0 0 10 0
   2: 000080FE00000000FF0E0A02FE0B5AFE:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 9003 1 0000000000000000 100 0 0 10 0
`;

describe('parseProcNetTcp', () => {
  it('reads address, port, state and inode of every socket line (little-endian words)', () =>
    assert.deepEqual(parseProcNetTcp(TCP, 'LE'), [
      { address: '127.0.0.1', port: 2222, listening: true, inode: 41877 },
      { address: '0.0.0.0', port: 22, listening: true, inode: 337 },
      { address: '127.0.0.1', port: 2222, listening: false, inode: 52001 },
      { address: '127.0.0.1', port: 40000, listening: false, inode: 0 },
    ]));

  it('reads IPv6 addresses, compressing the longest zero run', () =>
    assert.deepEqual(
      parseProcNetTcp(TCP6, 'LE').map((s) => [s.address, s.port, s.inode]),
      [
        ['::', 2222, 9001],
        ['::1', 80, 9002],
        ['fe80::20a:eff:fe5a:bfe', 80, 9003],
      ],
    ));

  it('reads big-endian words as written', () =>
    assert.equal(parseProcNetTcp(TCP, 'BE')[0]?.address, '1.0.0.127'));

  it('skips headers, garbage and an empty text', () => {
    assert.deepEqual(parseProcNetTcp(''), []);
    assert.deepEqual(
      parseProcNetTcp('  sl  local_address\nnot: a socket line at all x y z w v\n'),
      [],
    );
  });
});

describe('listeningInodes', () => {
  const sockets = [...parseProcNetTcp(TCP, 'LE'), ...parseProcNetTcp(TCP6, 'LE')];
  const cases: [number, number[]][] = [
    [2222, [41877, 9001]], // listening on 127.0.0.1 and on ::, not the established one
    [22, [337]],
    [40000, []], // not listening
    [2223, []],
  ];
  for (const [port, want] of cases)
    it(`port ${port}`, () => assert.deepEqual([...listeningInodes(sockets, port)], want));
});

describe('describeHolder', () => {
  const cases: [{ pid: number; command: string }, string][] = [
    [
      { pid: 42, command: 'burrow relay --listen 0.0.0.0:2222' },
      'by pid 42: burrow relay --listen 0.0.0.0:2222',
    ],
    [{ pid: 7, command: '' }, 'by pid 7'],
    [{ pid: 9, command: 'evil\n\x1b[2Jname' }, 'by pid 9: evil\\n\\x1b[2Jname'],
    [{ pid: 1, command: 'x'.repeat(150) }, `by pid 1: ${'x'.repeat(99)}…`],
  ];
  for (const [holder, want] of cases)
    it(want.slice(0, 40), () => assert.equal(describeHolder(holder), want));
});
