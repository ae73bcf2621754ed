/** The part of ssh2's internals that wire.ts uses (ssh2 ships no types for lib/). */
declare module 'ssh2/lib/protocol/utils.js' {
  const utils: {
    /** Encrypts and sends a finalized packet, or queues it during a key exchange. */
    sendPacket(proto: unknown, packet: Buffer): boolean;
  };
  export = utils;
}
