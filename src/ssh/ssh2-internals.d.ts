/** The parts of ssh2's internals that src/ssh uses (ssh2 ships no types for lib/). */
declare module 'ssh2/lib/protocol/utils.js' {
  const utils: {
    /** Encrypts and sends a finalized packet, or queues it during a key exchange. */
    sendPacket(proto: unknown, packet: Buffer): boolean;
  };
  export = utils;
}

declare module 'ssh2/lib/protocol/constants.js' {
  const constants: {
    /** RFC 4254 §5.1 reason codes for SSH_MSG_CHANNEL_OPEN_FAILURE. */
    CHANNEL_OPEN_FAILURE: {
      ADMINISTRATIVELY_PROHIBITED: number;
      CONNECT_FAILED: number;
      UNKNOWN_CHANNEL_TYPE: number;
      RESOURCE_SHORTAGE: number;
    };
  };
  export = constants;
}

declare module 'ssh2/lib/Channel.js' {
  const channel: {
    /** Present only with burrow's patch: rejects channel data beyond the window or packet size. */
    checkIncomingData?: unknown;
  };
  export = channel;
}
