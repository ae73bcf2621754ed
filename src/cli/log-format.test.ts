import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  escapeText,
  formatAuditEvent,
  formatClock,
  formatLogRecord,
  formatValue,
} from './log-format.js';

/** 14:03:07.412 local time today: the clock column of every expected line below. */
const AT = new Date(2026, 0, 2, 14, 3, 7, 412);
const CLOCK = '14:03:07.412';

describe('formatClock', () => {
  const cases: [Date, string][] = [
    [AT, CLOCK],
    [new Date(2026, 0, 2, 0, 0, 0, 5), '00:00:00.005'],
    [new Date(2026, 0, 2, 23, 59, 59, 999), '23:59:59.999'],
  ];
  for (const [at, want] of cases) it(want, () => assert.equal(formatClock(at), want));
});

describe('formatValue', () => {
  const cases: [unknown, string][] = [
    ['dev1', 'dev1'],
    ['127.0.0.1:2222', '127.0.0.1:2222'],
    [
      'SHA256:EluPSHJ0Pi037Swk72GfwU4onbXwBVN/JioXJXfvWzM',
      'SHA256:EluPSHJ0Pi037Swk72GfwU4onbXwBVN/JioXJXfvWzM',
    ],
    [22, '22'],
    [false, 'false'],
    [null, 'null'],
    ['', '""'],
    ['two words', '"two words"'],
    ['a=b', '"a=b"'],
    ['say "hi"', '"say \\"hi\\""'],
    ['back\\slash', '"back\\\\slash"'],
    ['line\nfake 12:00:00.000 INFO  x', '"line\\nfake 12:00:00.000 INFO  x"'],
    ['\x1b[31mred\x1b[0m', '"\\x1b[31mred\\x1b[0m"'],
    ['bell\x07', '"bell\\x07"'],
    ['c1\u009bcsi', '"c1\\x9bcsi"'],
    ['rtl\u202eoverride', '"rtl\\u202eoverride"'],
    ['sep\u2028x', '"sep\\u2028x"'],
    ['tab\there', '"tab\\there"'],
    [['a:1', 'b:2'], 'a:1,b:2'],
    [['a b', 'c'], '"a b,c"'],
    [{ message: 'boom\nstack' }, '"boom\\nstack"'],
    [{ a: 1 }, '"{\\"a\\":1}"'],
  ];
  for (const [value, want] of cases)
    it(`${JSON.stringify(value)} → ${want}`, () => assert.equal(formatValue(value), want));
});

describe('escapeText', () => {
  it('leaves printable text (also non-ASCII) alone', () =>
    assert.equal(escapeText('relay ünïcødé → ok "q"'), 'relay ünïcødé → ok "q"'));
  it('escapes quotes and backslashes only when quoting', () =>
    assert.equal(escapeText('"\\', true), '\\"\\\\'));
  it('never lets a control character through', () => {
    for (let c = 0; c < 0x20; c++)
      assert.doesNotMatch(escapeText(String.fromCharCode(c)), /\p{Cc}/u);
    assert.doesNotMatch(escapeText('\x7f\x85\u009f'), /\p{Cc}/u);
  });
});

describe('formatLogRecord', () => {
  const time = AT.getTime();
  const cases: [string, Record<string, unknown>, string][] = [
    [
      'level, message and fields; pid, hostname and component left out',
      { level: 30, time, pid: 7, hostname: 'h', component: 'relay', msg: 'hello', name: 'dev1' },
      `${CLOCK} INFO  hello name=dev1\n`,
    ],
    ['warn', { level: 40, time, msg: 'careful' }, `${CLOCK} WARN  careful\n`],
    ['error', { level: 50, time, msg: 'bad' }, `${CLOCK} ERROR bad\n`],
    ['debug', { level: 20, time, msg: 'detail' }, `${CLOCK} DEBUG detail\n`],
    ['fatal', { level: 60, time, msg: 'dead' }, `${CLOCK} FATAL dead\n`],
    ['an unknown level', { level: 35, time, msg: 'odd' }, `${CLOCK} L35   odd\n`],
    [
      'fields the message already shows are left out',
      {
        level: 30,
        time,
        msg: 'relay listening on 127.0.0.1:2222, host key SHA256:abc',
        listen: '127.0.0.1:2222',
        hostKey: 'SHA256:abc',
        created: false,
      },
      `${CLOCK} INFO  relay listening on 127.0.0.1:2222, host key SHA256:abc created=false\n`,
    ],
    [
      'a control character in the message is escaped',
      { level: 30, time, msg: 'user root\n14:00:00.000 INFO  fake\x1b]0;title\x07' },
      `${CLOCK} INFO  user root\\n14:00:00.000 INFO  fake\\x1b]0;title\\x07\n`,
    ],
    [
      'an err object shows its message',
      {
        level: 50,
        time,
        msg: 'listener error',
        err: { type: 'Error', message: 'EPERM', stack: 'x\ny' },
      },
      `${CLOCK} ERROR listener error err=EPERM\n`,
    ],
    [
      'a hostile key is escaped too',
      { level: 30, time, msg: 'm', 'k\n': 'v' },
      `${CLOCK} INFO  m k\\n=v\n`,
    ],
  ];
  for (const [what, record, want] of cases)
    it(what, () => assert.equal(formatLogRecord(record), want));
});

describe('formatAuditEvent', () => {
  const cases: [string, { event: string } & Record<string, unknown>, string][] = [
    [
      'the event name is the message',
      { event: 'relay.started', relay: 'r1', listen: '127.0.0.1:2222', host_key: 'SHA256:abc' },
      `${CLOCK} AUDIT relay.started relay=r1 listen=127.0.0.1:2222 host_key=SHA256:abc\n`,
    ],
    [
      'a user name chosen by the client cannot fake a line or reach the terminal',
      {
        event: 'auth.refused',
        conn: 'c1',
        ip: '127.0.0.1',
        user: 'x\n14:00:00.000 AUDIT auth.accepted user=root\x1b[2J',
        method: 'none',
        reason: 'no key',
      },
      `${CLOCK} AUDIT auth.refused conn=c1 ip=127.0.0.1 ` +
        'user="x\\n14:00:00.000 AUDIT auth.accepted user=root\\x1b[2J" method=none reason="no key"\n',
    ],
    [
      'optional fields left undefined are left out',
      { event: 'conn.closed', conn: 'c2', ip: '::1', fp: undefined, reason: 'eof', ms: 12 },
      `${CLOCK} AUDIT conn.closed conn=c2 ip=::1 reason=eof ms=12\n`,
    ],
  ];
  for (const [what, event, want] of cases)
    it(what, () => {
      const line = formatAuditEvent(AT, event);
      assert.equal(line, want);
      assert.equal(line.split('\n').length, 2, 'exactly one line');
    });
});
