import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseHostKey } from './keys.js';
import { generateEd25519 } from './openssh-format.js';

describe('generateEd25519', () => {
  it('produces keys ssh2 and ssh-keygen both accept, including leading-zero public keys', () => {
    let sawLeadingZero = false;
    // ~1 in 256 public keys starts with a zero byte; 1500 keys make missing one very unlikely.
    for (let i = 0; i < 1500; i++) {
      const k = generateEd25519('t');
      const parsed = parseHostKey(k.privateKey, 'generated');
      assert.equal(parsed.publicLine, k.publicLine.replace(/ t$/, ''));
      const blob = Buffer.from(k.publicLine.split(' ')[1]!, 'base64');
      if (blob[19] === 0) sawLeadingZero = true;
    }
    assert.ok(sawLeadingZero, 'no leading-zero key generated; the case went untested');
  });

  it('writes a file ssh-keygen can read and derive the same public key from', () => {
    const dir = mkdtempSync(join(tmpdir(), 'burrow-key-'));
    try {
      const k = generateEd25519('hello');
      const path = join(dir, 'id');
      writeFileSync(path, k.privateKey, { mode: 0o600 });
      const derived = execFileSync('ssh-keygen', ['-y', '-f', path], { encoding: 'utf8' }).trim();
      assert.equal(
        derived.split(' ').slice(0, 2).join(' '),
        k.publicLine.split(' ').slice(0, 2).join(' '),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
