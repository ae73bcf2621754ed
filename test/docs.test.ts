/**
 * The README, run as written: every block marked `<!-- docs-test: … -->` (the install, the
 * walkthrough, the shim and otssh examples) runs in order, as a reader would paste it, on a fresh
 * home directory in private namespaces (see helpers/docs-runner.ts). A README whose commands no
 * longer work fails here.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { DocMarkerError, extractDocBlocks } from './helpers/docs.js';
import { runDocBlocks } from './helpers/docs-runner.js';
import { generateKey, tmpDir, withScope } from './helpers/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('docs-test markers', () => {
  it('take the fenced block after the marker, with its attributes', () => {
    const md = [
      'text',
      '<!-- docs-test: walkthrough background wait="nc -z 127.0.0.1 2222" -->',
      '```sh',
      'burrow relay',
      '```',
      '```sh',
      'not marked',
      '```',
      '<!-- docs-test: shim expect="hello world" -->',
      '````sh',
      'echo "hello world"',
      '```',
      'still inside',
      '````',
    ].join('\n');
    assert.deepEqual(extractDocBlocks(md), [
      {
        group: 'walkthrough',
        background: true,
        wait: 'nc -z 127.0.0.1 2222',
        code: 'burrow relay',
        line: 3,
      },
      {
        group: 'shim',
        background: false,
        expect: 'hello world',
        code: 'echo "hello world"\n```\nstill inside',
        line: 10,
      },
    ]);
  });

  for (const [what, md] of [
    ['no fence after it', '<!-- docs-test: a -->\ntext'],
    ['an unclosed fence', '<!-- docs-test: a -->\n```sh\nls'],
    ['an unknown attribute', '<!-- docs-test: a bogus="1" -->\n```sh\nls\n```'],
    ['background without wait', '<!-- docs-test: a background -->\n```sh\nls\n```'],
    ['no group', '<!-- docs-test: -->\n```sh\nls\n```'],
  ] as const) {
    it(`refuse ${what}`, () => {
      assert.throws(() => extractDocBlocks(md), DocMarkerError);
    });
  }
});

describe('README', () => {
  it('runs as written, from the install to the last example', { timeout: 300_000 }, (t) =>
    withScope(t, async (s) => {
      const blocks = extractDocBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'));
      const groups = new Set(blocks.map((b) => b.group));
      for (const g of ['install', 'walkthrough', 'cluster', 'shim', 'otssh', 'cleanup']) {
        assert.ok(groups.has(g), `README has no docs-test blocks of group ${g}`);
      }
      assert.equal(process.getuid?.(), 0, 'the docs test runs as root (namespaces, sshd on :22)');
      const dir = await tmpDir(s, 'burrow-docs-');
      await generateKey(dir, 'ssh_host_ed25519_key');
      const run = await runDocBlocks(blocks, { dir, clone: ROOT, timeoutMs: 280_000 });
      const ran = run.output.match(/^@@docs ok block \d+$/gm)?.length ?? 0;
      assert.equal(run.code, 0, run.output);
      assert.equal(ran, blocks.length, `ran ${ran} of ${blocks.length} blocks:\n${run.output}`);
      assert.match(run.output, /^@@docs done$/m);
    }),
  );
});
