export { aesGcmForLog } from './aes-gcm.js';
export { generateEd25519, type HostKey, parseHostKey } from './keys.js';
export { DEFAULT_CIPHERS } from './server.js';
