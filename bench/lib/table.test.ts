import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { markdownTable, type Table, terminalTable } from './table.js';

const cases: { name: string; table: Table; markdown: string; terminal: string }[] = [
  {
    name: 'headers and rows only',
    table: { headers: ['a', 'bb'], rows: [[1, 'x']] },
    markdown: '| a | bb |\n| --- | --- |\n| 1 | x |',
    terminal: 'a  bb\n-  --\n1  x',
  },
  {
    name: 'a title, emphasis and code, and notes',
    table: {
      title: '3 runs of `ssh`',
      headers: ['path', 'p50'],
      rows: [
        ['burrow relay', '**12.5**'],
        ['direct', 9],
      ],
      notes: ['faster by `3.5` ms'],
    },
    markdown:
      '**3 runs of `ssh`**\n\n| path | p50 |\n| --- | --- |\n| burrow relay | **12.5** |\n' +
      '| direct | 9 |\n\n- faster by `3.5` ms',
    terminal:
      '3 runs of ssh\npath          p50\n------------  ----\nburrow relay  12.5\ndirect        9\n' +
      '  faster by 3.5 ms',
  },
  {
    name: 'no rows, and a column wider in its header than in its cells',
    table: { headers: ['connection', 'kex'], rows: [] },
    markdown: '| connection | kex |\n| --- | --- |',
    terminal: 'connection  kex\n----------  ---',
  },
  {
    name: 'a short row leaves its missing cells empty on the terminal',
    table: { headers: ['a', 'b', 'c'], rows: [['xx'], ['y', 'zz', 'w']] },
    markdown: '| a | b | c |\n| --- | --- | --- |\n| xx |\n| y | zz | w |',
    terminal: 'a   b   c\n--  --  -\nxx\ny   zz  w',
  },
];

describe('markdownTable', () => {
  for (const c of cases) {
    it(c.name, () => assert.equal(markdownTable(c.table), c.markdown));
  }
});

describe('terminalTable', () => {
  for (const c of cases) {
    it(c.name, () => assert.equal(terminalTable(c.table), c.terminal));
  }
});
