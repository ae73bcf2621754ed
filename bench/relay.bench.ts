/**
 * `npm run bench -- relay [flags]`: burrow's relay against an OpenSSH reverse jumphost, in the
 * same run. Phases: throughput (hop CPU per GiB too), latency (`ssh … true`, p50/p95), idle
 * devices per relay process (plus the OpenSSH jumphost's memory per tunnel), and the algorithms
 * each connection negotiated. Method: bench/relay.md; where the relays spend their CPU:
 * bench/experiments/relay-profile.ts.
 */
import { defineBench, runBench } from './lib/runner.js';
import { checkDeviceCount } from './relay/idle.js';
import {
  ciphersPhase,
  idlePhase,
  latencyPhase,
  RELAY_FLAGS,
  throughputPhase,
} from './relay/phases.js';

runBench(
  defineBench({
    name: 'relay',
    title: 'relay: `burrow relay` vs an OpenSSH reverse jumphost',
    flags: RELAY_FLAGS,
    phases: [throughputPhase, latencyPhase, idlePhase, ciphersPhase],
    moved: { profile: 'npm run bench -- experiments/relay-profile' },
    epilogue: 'About 4 minutes with the defaults on a 2-core machine.',
    check(flags, run) {
      // Refuse an impossible idle run before spending minutes on the other phases.
      if (run.phases.includes('idle')) checkDeviceCount(flags.devices);
    },
  }),
);
