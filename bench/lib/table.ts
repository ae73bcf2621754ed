/**
 * The one table renderer of the benchmarks: a Table becomes GitHub-flavoured Markdown for
 * BENCHMARKS.md or aligned plain text for the terminal. Pure: data in, text out.
 */

export type Cell = string | number;

export interface Table {
  /** Shown above the table (bold in Markdown). */
  readonly title?: string;
  readonly headers: readonly string[];
  readonly rows: readonly (readonly Cell[])[];
  /** Lines shown under the table as a list (computed remarks: speed-ups, failures, limits). */
  readonly notes?: readonly string[];
}

/** Markdown: `**title**`, the table, then the notes as `- ` items. Cells must not contain `|`. */
export function markdownTable(t: Table): string {
  const line = (cells: readonly Cell[]) => `| ${cells.map(String).join(' | ')} |`;
  const out: string[] = [];
  if (t.title) out.push(`**${t.title}**`, '');
  out.push(line(t.headers), line(t.headers.map(() => '---')), ...t.rows.map(line));
  if (t.notes?.length) out.push('', ...t.notes.map((n) => `- ${n}`));
  return out.join('\n');
}

/** Markdown emphasis and code marks are dropped for the terminal. */
function plain(text: string): string {
  return text.replaceAll('**', '').replaceAll('`', '');
}

/** Plain text with aligned columns: title, header, dashes, rows, then the notes. */
export function terminalTable(t: Table): string {
  const all = [t.headers, ...t.rows].map((r) => r.map((c) => plain(String(c))));
  const widths = t.headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const out: string[] = [];
  if (t.title) out.push(plain(t.title));
  out.push(fmt(all[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(fmt));
  if (t.notes?.length) out.push(...t.notes.map((n) => `  ${plain(n)}`));
  return out.join('\n');
}
