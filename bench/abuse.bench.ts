/**
 * `npm run bench -- abuse [flags]`: the relay under attack, each phase against its baseline in the
 * same run (OpenSSH's sshd under the same flood; the relay's own quiet figures for the window
 * attack and the idle crowd). Method: bench/abuse.md.
 */
import { floodPhase } from './abuse/flood.js';
import { idleKeysPhase, windowPhase } from './abuse/more-phases.js';
import { ABUSE_FLAGS } from './abuse/phases.js';
import { defineBench, runBench } from './lib/runner.js';

runBench(
  defineBench({
    name: 'abuse',
    title: 'abuse: the relay under attack, against OpenSSH sshd',
    after: 'relay',
    flags: ABUSE_FLAGS,
    phases: [floodPhase, windowPhase, idleKeysPhase],
  }),
);
