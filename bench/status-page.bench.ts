/**
 * `npm run bench -- status-page [flags]`: the coordinator's status page with 10 000 names in a
 * memory registry: server time and bytes per page. Method: bench/status-page.md.
 */

import { STATUS_PAGE_FLAGS, statusPagePhase } from './coordinator/status-page.js';
import { defineBench, runBench } from './lib/runner.js';

runBench(
  defineBench({
    name: 'status-page',
    title: "status-page: the coordinator's status page with 10 000 names",
    after: 'cluster',
    flags: STATUS_PAGE_FLAGS,
    phases: [statusPagePhase],
    epilogue: 'A few seconds with the defaults.',
  }),
);
