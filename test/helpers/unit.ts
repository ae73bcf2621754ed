/** Reading back a systemd unit that burrow printed. */
import assert from 'node:assert/strict';

/** One word as burrow's renderer quotes it: `"…"` with `\\` and `\"` escaped. */
const WORD = /"((?:[^"\\]|\\.)*)"/g;

/**
 * The words of the unit's one `ExecStart=` line, unquoted as systemd reads them (burrow quotes
 * every word, and writes `%%` for `%`, `$$` for `$`). Fails when the line holds anything else.
 */
export function execStartArgv(unit: string): string[] {
  const lines = unit.split('\n').filter((l) => l.startsWith('ExecStart='));
  assert.equal(lines.length, 1, `one ExecStart= line in:\n${unit}`);
  const rest = lines[0]!.slice('ExecStart='.length);
  assert.match(rest.replace(WORD, ''), /^ *$/, `only quoted words in ExecStart=${rest}`);
  return [...rest.matchAll(WORD)].map((m) =>
    m[1]!.replace(/\\(.)/g, '$1').replaceAll('%%', '%').replaceAll('$$', '$'),
  );
}
