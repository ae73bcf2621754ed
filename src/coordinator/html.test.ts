import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeHtml, html, raw } from './html.js';

describe('html', () => {
  const cases: [what: string, got: () => string, want: string][] = [
    [
      'escapes the five characters',
      () => escapeHtml(`<a href="x">'&'</a>`),
      '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;',
    ],
    ['interpolated strings are escaped', () => html`<b>${'<i>'}</b>`.text, '<b>&lt;i&gt;</b>'],
    [
      'in attributes too',
      () => html`<a title="${'" onclick="x'}">`.text,
      '<a title="&quot; onclick=&quot;x">',
    ],
    ['numbers as text', () => html`${42}`.text, '42'],
    [
      'nested templates are kept',
      () => html`<p>${html`<b>${'&'}</b>`}</p>`.text,
      '<p><b>&amp;</b></p>',
    ],
    ['arrays are joined, each escaped', () => html`${['<', html`<br>`, '>']}`.text, '&lt;<br>&gt;'],
    ['empty values render nothing', () => html`[${undefined}${null}${false}]`.text, '[]'],
    ['raw passes through', () => html`${raw('<hr>')}`.text, '<hr>'],
  ];
  for (const [what, got, want] of cases) it(what, () => assert.equal(got(), want));
});
