/**
 * `burrow shim` on its JavaScript byte path (BURROW_SHIM_NATIVE=0 at both ends: where the native
 * addon is not built, or by choice): the cases that move bytes, resume, and end a session. The
 * native path runs every case (test/shim.test.ts).
 */
import { describe } from 'node:test';
import { shimCases } from './helpers/shim-cases.js';

const CASES = [
  'passes exit statuses and both output streams through',
  'passes signals both ways as plain ssh would',
  'keeps every byte in order across forced disconnects (cat > f through a cutting proxy)',
  'stops reading stdin while the remote command does not read (bounded buffers), then delivers all of it',
  'rsync pulls a file across forced disconnects (the remote side resends its output)',
  'lets nobody else attach: the socket directory is 0700 and a wrong secret is refused',
  'the holder answers a ping with a pong of the same nonce, also after a resume',
];

describe('burrow shim (javascript byte path)', () => shimCases('javascript', CASES));
