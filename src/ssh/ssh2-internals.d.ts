/** The parts of ssh2's internals that src/ssh/ssh2.ts uses (ssh2 ships no types for lib/). */
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

declare module 'ssh2/lib/protocol/crypto.js' {
  const crypto: {
    /** The handshake's unencrypted cipher; its padding is filled like every cipher's. */
    NullCipher: new (
      seqno: number,
      onWrite: (packet: Buffer) => void,
    ) => { allocPacket(payloadLen: number): Buffer };
    /** True when ssh2's optional native binding (sshcrypto.node) loaded; else node:crypto. */
    bindingAvailable: boolean;
    /** Cipher parameters by SSH name (`aes128-gcm@openssh.com`: keyLen, ivLen, …). */
    CIPHER_INFO: Record<string, { keyLen: number; ivLen: number }>;
    /** The packet cipher for one direction; `forceNative` skips the binding. */
    createCipher(config: { outbound: Record<string, unknown> }): {
      allocPacket(payloadLen: number): Buffer;
      encrypt(packet: Buffer): void;
    };
    createDecipher(config: { inbound: Record<string, unknown> }): {
      decrypt(data: Buffer, p: number, dataLen: number): number | undefined;
    };
  };
  export = crypto;
}

declare module 'ssh2/lib/Channel.js' {
  const channel: {
    /** Present only with burrow's patch: rejects channel data beyond the window or packet size. */
    checkIncomingData?: unknown;
  };
  export = channel;
}
