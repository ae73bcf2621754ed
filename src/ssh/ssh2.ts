/**
 * ssh2, loaded with a pooled random source for its packet padding (see ssh2-prelude.cts). The
 * only place burrow loads ssh2 at run time; the rest of src/ssh imports it from here.
 *
 * Must be evaluated before anything else loads ssh2: a module already in the cache would be
 * unpooled. The import order below is the mechanism: loading the prelude swaps
 * `crypto.randomFillSync`, then ssh2 loads and takes its reference, then this module's body
 * restores it. The prelude's first import is a bare one because import sorting never moves an
 * import across a bare import; the named one after it only reads the already-loaded module.
 */
import './ssh2-prelude.cjs';
import ssh2 from 'ssh2';
// Already loaded by ssh2 itself, so this reads the cached module.
import ssh2Channel from 'ssh2/lib/Channel.js';
// Already loaded by ssh2 itself (its server requires it), so this reads the cached module.
import ssh2Constants from 'ssh2/lib/protocol/constants.js';
import prelude from './ssh2-prelude.cjs';

prelude.restoreRandomFill();

export const { pooledRandomFill, pooledBytesServed } = prelude;
/** RFC 4254 reason codes for a refused channel open, as ssh2 names them. */
export const { CHANNEL_OPEN_FAILURE } = ssh2Constants;
/** True when the installed ssh2 carries burrow's flow-control patch (see violations.ts). */
export const FLOW_CONTROL_PATCHED = typeof ssh2Channel.checkIncomingData === 'function';
export default ssh2;
