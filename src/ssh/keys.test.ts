import assert from 'node:assert/strict';
import { KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import { generateEd25519, toSsh2Key } from './keys.js';

describe('toSsh2Key (the seam into ssh2 1.17.0 parsed keys)', () => {
  it('replaces the private key PEM that ssh2 keeps under its symbol with a KeyObject', () => {
    const key = toSsh2Key(generateEd25519('t').privateKey);
    const fields = Object.getOwnPropertySymbols(key).map((sym) => ({
      name: sym.description,
      value: (key as unknown as Record<symbol, unknown>)[sym],
    }));
    const priv = fields.find((f) => f.name === 'Private key PEM');
    assert.ok(priv, 'ssh2 keeps the private key under a "Private key PEM" symbol');
    assert.ok(priv.value instanceof KeyObject);
    const data = Buffer.from('signed by the relay');
    const signature = key.sign(data);
    assert.ok(Buffer.isBuffer(signature));
    assert.equal(key.verify(data, signature as Buffer), true);
  });
});
