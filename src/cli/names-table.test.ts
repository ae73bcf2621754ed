import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NameView } from '../coordinator/names-client.js';
import { NamesTable, nameCells } from './names-table.js';

const FP = 'SHA256:/4XmBn8ddHFMGifpf018NavhbQHT2TZiRMlbGAix6Yk';

function view(name: string, over: Partial<NameView> = {}): NameView {
  return {
    name,
    relay: { id: 'r1:2222#ab12', address: '10.0.0.5:2222' },
    ports: [22],
    owner: FP,
    since: '2026-12-06T08:36:17.123Z',
    ...over,
  };
}

describe('nameCells', () => {
  const cases: [string, NameView, string[]][] = [
    ['one port', view('dev1'), ['dev1', '10.0.0.5:2222', '22', FP, '2026-12-06T08:36:17Z']],
    [
      'several ports, whole seconds',
      view('dev1', { ports: [22, 80, 443], since: '2026-12-06T08:36:17Z' }),
      ['dev1', '10.0.0.5:2222', '22,80,443', FP, '2026-12-06T08:36:17Z'],
    ],
    [
      'a relay with no address: its id',
      view('dev1', { relay: { id: 'r1:2222#ab12', address: null } }),
      ['dev1', 'r1:2222#ab12', '22', FP, '2026-12-06T08:36:17Z'],
    ],
    [
      'control characters escaped',
      view('dev1', { relay: { id: 'x', address: 'evil\x1b[2J\n' } }),
      ['dev1', 'evil\\x1b[2J\\n', '22', FP, '2026-12-06T08:36:17Z'],
    ],
  ];
  for (const [what, input, want] of cases) {
    it(what, () => assert.deepEqual(nameCells(input), want));
  }
});

describe('NamesTable', () => {
  function render(pages: NameView[][]): string {
    let out = '';
    const t = new NamesTable((text) => {
      out += text;
    });
    for (const p of pages) t.add(p);
    t.end();
    return out;
  }

  it('aligns the columns over the header and the first page', () => {
    assert.equal(
      render([[view('a'), view('long-name-1')]]),
      [
        'NAME         RELAY          PORTS  OWNER                                               SINCE',
        `a            10.0.0.5:2222  22     ${FP}  2026-12-06T08:36:17Z`,
        `long-name-1  10.0.0.5:2222  22     ${FP}  2026-12-06T08:36:17Z`,
        '',
      ].join('\n'),
    );
  });

  it('keeps the first page widths; a longer value later pushes only its own row', () => {
    const lines = render([[view('a')], [view('much-longer-name')], [view('b')]]).split('\n');
    assert.equal(lines[1]?.indexOf('10.0.0.5'), lines[0]?.indexOf('RELAY'));
    assert.equal(lines[2], `much-longer-name  10.0.0.5:2222  22     ${FP}  2026-12-06T08:36:17Z`);
    assert.equal(lines[3]?.indexOf('10.0.0.5'), lines[0]?.indexOf('RELAY'));
  });

  it('prints the header alone when no name came, and never a trailing space', () => {
    assert.equal(render([]), 'NAME  RELAY  PORTS  OWNER  SINCE\n');
    assert.equal(render([[], []]), 'NAME  RELAY  PORTS  OWNER  SINCE\n');
    for (const line of render([[view('a', { ports: [] })]]).split('\n')) {
      assert.equal(line, line.trimEnd());
    }
  });
});
