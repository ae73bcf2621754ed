import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blobFor, keyLine } from '../../test/fixtures/testkeys.js';
import { parsePeers } from './peers.js';

test('peers file: listed keys are peers, comments and blank lines are ignored', () => {
  const text = ['# relays', '', keyLine('', 'a', 'relay-a'), keyLine('', 'b')].join('\n');
  const { peers, errors } = parsePeers(text, 'peers');
  assert.deepEqual(errors, []);
  assert.equal(peers.size, 2);
  assert.equal(peers.find(blobFor('ssh-ed25519', 'a'))?.source, 'peers:3');
  assert.equal(peers.find(blobFor('ssh-ed25519', 'a'))?.comment, 'relay-a');
  assert.equal(peers.find(blobFor('ssh-ed25519', 'b'))?.source, 'peers:4');
  assert.equal(peers.find(blobFor('ssh-ed25519', 'c')), undefined);
});

test('peers file: a bad line is reported as file:line and skipped', () => {
  const text = [keyLine('', 'a'), 'ssh-ed25519 not-base64!', keyLine('', 'b')].join('\n');
  const { peers, errors } = parsePeers(text, '/etc/burrow/peers');
  assert.equal(errors.length, 1);
  assert.match(errors[0]?.message ?? '', /^\/etc\/burrow\/peers:2: /);
  assert.equal(peers.size, 2);
});
