/**
 * The README's runnable examples. A fenced block is run by the docs test when the line right
 * before its opening fence is a marker comment (invisible when the Markdown is rendered):
 *
 *   <!-- docs-test: GROUP [background] [wait="COMMAND"] [expect="TEXT"] -->
 *
 * - GROUP names the part of the README the block belongs to (`install`, `walkthrough`, `shim`,
 *   `otssh`, `cleanup`). Blocks run in the order the README gives them, except that `cleanup`
 *   blocks run last (the walkthrough's cleanup comes before later sections that use its setup).
 * - `background`: the block is a long-running program a reader starts in a terminal of its own;
 *   the test starts it and goes on once `wait` (a shell command, retried) succeeds.
 * - `wait` on a foreground block: after it, the test waits for what a reader would see happen
 *   before going on (a running relay reloading its policy, say).
 * - `expect`: text the block's output must contain.
 *
 * Values are double-quoted and contain no double quote. This module only parses; the docs test
 * runs what it returns.
 */

export interface DocBlock {
  group: string;
  /** The block's text, exactly as a reader would paste it. */
  code: string;
  background: boolean;
  wait?: string;
  expect?: string;
  /** 1-based line of the opening fence, for messages. */
  line: number;
}

const MARKER = /^<!--\s*docs-test:\s*(.*?)\s*-->\s*$/;
const ATTRIBUTE = /([a-z]+)(?:="([^"]*)")?/g;
const FENCE = /^(`{3,}|~{3,})/;

export class DocMarkerError extends Error {}

function parseMarker(text: string, line: number): Omit<DocBlock, 'code' | 'line'> {
  const [group, ...rest] = text.split(/\s+/);
  if (!group || !/^[a-z][a-z0-9-]*$/.test(group)) {
    throw new DocMarkerError(`line ${line}: docs-test marker without a group name`);
  }
  const block: Omit<DocBlock, 'code' | 'line'> = { group, background: false };
  for (const m of rest.join(' ').matchAll(ATTRIBUTE)) {
    const [, key, value] = m;
    if (key === 'background' && value === undefined) block.background = true;
    else if (key === 'wait' && value) block.wait = value;
    else if (key === 'expect' && value) block.expect = value;
    else throw new DocMarkerError(`line ${line}: unknown docs-test attribute ${m[0]}`);
  }
  if (block.background && !block.wait) {
    throw new DocMarkerError(`line ${line}: a background block needs wait="…"`);
  }
  return block;
}

/** Every marked block of `markdown`, in the order they run. Throws on a malformed marker. */
export function extractDocBlocks(markdown: string): DocBlock[] {
  const lines = markdown.split('\n');
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const marker = MARKER.exec(lines[i] ?? '');
    if (!marker) continue;
    const fence = FENCE.exec(lines[i + 1] ?? '');
    if (!fence) throw new DocMarkerError(`line ${i + 1}: docs-test marker not followed by a fence`);
    const close = lines.findIndex((l, j) => j > i + 1 && l.trimEnd() === fence[1]);
    if (close < 0) throw new DocMarkerError(`line ${i + 2}: unclosed fenced block`);
    blocks.push({
      ...parseMarker(marker[1] ?? '', i + 1),
      code: lines.slice(i + 2, close).join('\n'),
      line: i + 2,
    });
    i = close;
  }
  const last = (b: DocBlock) => (b.group === 'cleanup' ? 1 : 0);
  return blocks.sort((a, b) => last(a) - last(b) || a.line - b.line);
}
