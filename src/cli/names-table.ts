import type { NameView } from '../coordinator/names-client.js';
import { escapeText } from './log-format.js';

/**
 * `burrow ls`'s table: one row per name, columns separated by two spaces. Rows come page by page
 * and are written as they come, so the widths are fixed by the header and the first page (up to
 * 1000 names); a longer value on a later page pushes the rest of its own row right. Text from the
 * coordinator is escaped, so it cannot move the terminal's cursor. Pure apart from `write`.
 */
export const NAME_COLUMNS = ['NAME', 'RELAY', 'PORTS', 'OWNER', 'SINCE'] as const;

/** The cells of one name: relay address (its id when it has none), ports, owner, since. */
export function nameCells(n: NameView): string[] {
  return [
    n.name,
    n.relay.address ?? n.relay.id,
    n.ports.join(','),
    n.owner,
    n.since.replace(/\.\d+Z$/, 'Z'),
  ].map((c) => escapeText(c));
}

export class NamesTable {
  #widths: number[] | undefined;
  readonly #write: (text: string) => void;

  constructor(write: (text: string) => void) {
    this.#write = write;
  }

  /** Writes `names` (the header first, with the first call). */
  add(names: readonly NameView[]): void {
    const rows = names.map(nameCells);
    if (this.#widths === undefined) {
      const all = [[...NAME_COLUMNS], ...rows];
      this.#widths = NAME_COLUMNS.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
      rows.unshift([...NAME_COLUMNS]);
    }
    const widths = this.#widths;
    this.#write(rows.map((r) => `${line(r, widths)}\n`).join(''));
  }

  /** Ends the table: a header alone when no name came. */
  end(): void {
    if (this.#widths === undefined) this.add([]);
  }
}

function line(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ');
}
