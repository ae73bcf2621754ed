/** Every property `npm test` and `npm run fuzz` run, in one list. */
import { configFileProperties } from './config-file.js';
import { coordinatorProperties } from './coordinator.js';
import { knownHostsProperties } from './known-hosts.js';
import { namesProperties } from './names.js';
import { policyProperties } from './policy.js';
import type { FuzzProperty } from './property.js';
import { registryUrlProperties } from './registry-url.js';
import { shimFrameProperties } from './shim-frames.js';
import { shimReplayProperties } from './shim-replay.js';
import { webhookAnswerProperties } from './webhook-answer.js';

export type { FuzzProperty } from './property.js';

export const ALL_PROPERTIES: readonly FuzzProperty[] = [
  ...policyProperties,
  ...knownHostsProperties,
  ...namesProperties,
  ...shimFrameProperties,
  ...shimReplayProperties,
  ...configFileProperties,
  ...registryUrlProperties,
  ...coordinatorProperties,
  ...webhookAnswerProperties,
];
