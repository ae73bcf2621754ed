/**
 * Policy: which keys may log in to a relay, from where and until when, and which `NAME:PORT`
 * routes each may register or reach. Pure functions over an OpenSSH authorized_keys text.
 */
export { parseExpiryTime } from './expiry.js';
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
