/**
 * Generators shared by the property modules: well-formed SSH public key blobs, and "token soup"
 * text, which mixes the vocabulary a parser knows with arbitrary Unicode so that generated input
 * reaches past the first check of a parser instead of failing at its first character.
 */
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { checkName } from '../../src/core/names.js';

/** SSH wire `string`: u32 length + bytes. */
export function sshString(data: Buffer | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

export interface GeneratedKey {
  readonly type: 'ssh-ed25519' | 'ecdsa-sha2-nistp256';
  readonly blob: Buffer;
}

/** A public key blob that decodeKey accepts (ed25519, or an uncompressed nistp256 point). */
export const keyBlob: fc.Arbitrary<GeneratedKey> = fc.oneof(
  fc.uint8Array({ minLength: 32, maxLength: 32 }).map((pk) => ({
    type: 'ssh-ed25519' as const,
    blob: Buffer.concat([sshString('ssh-ed25519'), sshString(Buffer.from(pk))]),
  })),
  fc.uint8Array({ minLength: 64, maxLength: 64 }).map((xy) => ({
    type: 'ecdsa-sha2-nistp256' as const,
    blob: Buffer.concat([
      sshString('ecdsa-sha2-nistp256'),
      sshString('nistp256'),
      sshString(Buffer.concat([Buffer.from([4]), Buffer.from(xy)])),
    ]),
  })),
);

/** Any string, including lone surrogates, control characters and astral code points. */
export const anyText = fc.string({ unit: 'binary', maxLength: 200 });

/** Text made of `words` and arbitrary pieces, with occasional very long runs. */
export function soup(words: readonly string[], maxPieces = 24): fc.Arbitrary<string> {
  return fc
    .array(
      fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(...words) },
        { weight: 2, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 8 }) },
        { weight: 1, arbitrary: anyText },
        { weight: 1, arbitrary: fc.nat(3000).map((n) => 'A'.repeat(n)) },
      ),
      { maxLength: maxPieces },
    )
    .map((pieces) => pieces.join(''));
}

/** Several lines of `line`, joined with LF or CRLF. */
export function lines(line: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc
    .tuple(fc.array(line, { maxLength: 12 }), fc.constantFrom('\n', '\r\n'))
    .map(([ls, eol]) => ls.join(eol));
}

/**
 * A device name that checkName accepts: dot-separated labels of lower-case letters, digits, `-`
 * and `_`, each starting and ending with a letter or digit (addresses and reserved names left out).
 */
export const deviceName: fc.Arbitrary<string> = fc
  .array(fc.stringMatching(/^[a-z0-9](?:[a-z0-9_-]{0,10}[a-z0-9])?$/), {
    minLength: 1,
    maxLength: 4,
  })
  .map((labels) => labels.join('.'))
  .filter((n) => checkName(n).ok);

/** `|1|salt|hmac` of `name`, as `ssh-keygen -H` writes it. */
export function hashedHostName(salt: Buffer, name: string): string {
  const mac = createHmac('sha1', salt).update(name).digest();
  return `|1|${salt.toString('base64')}|${mac.toString('base64')}`;
}
