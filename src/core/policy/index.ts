/**
 * Policy: which keys may log in to a relay, from where and until when, and which `NAME:PORT`
 * routes each may register or reach. Pure functions over an OpenSSH authorized_keys text.
 */

export {
  type AddResult,
  addedComment,
  addKeyLine,
  findKeyLines,
  isAddedComment,
  type KeyMatch,
  keyOfLine,
  type RemoveResult,
  removeKeyLines,
} from './edit.js';
export { parseExpiryTime } from './expiry.js';
export {
  buildKeyLine,
  describePermits,
  type KeyLineBuild,
  type Permits,
  type PublicKey,
  type PublicKeyParse,
  parsePublicKey,
  shortKeyType,
} from './key-line.js';
export { decodeKey, fingerprint, isKeyType, KEY_TYPES, type KeyType } from './keys.js';
export { type KeyLine, type KeyOption, parseKeyLine, parseOptionsField } from './options.js';
export {
  type AddressPattern,
  type AddressPatternList,
  formatIp,
  type IpAddress,
  matchAddressList,
  matchGlob,
  matchRoutePattern,
  parseAddressPatternList,
  parseIp,
  parseRoutePattern,
  type RoutePattern,
} from './patterns.js';
export {
  type AuthorizeResult,
  authorize,
  mayListen,
  mayOpen,
  type ParsedPolicy,
  type PolicyEntry,
  type PolicyLineError,
  parseAuthorizedKeys,
  policyLineError,
} from './policy.js';
