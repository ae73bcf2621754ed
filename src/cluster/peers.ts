import { type PolicyLineError, parseAuthorizedKeys } from '../core/policy/index.js';

/**
 * The relays of a cluster, as listed in `--peers FILE`: one relay host public key per line in
 * authorized_keys format (comments and blank lines allowed, options ignored). The same file on
 * every relay. A key here is what makes a connection a relay-to-relay link, in both directions:
 * the entry relay accepts a holder only if its host key is listed, and the holder treats a client
 * authenticating with a listed key as a peer. Nothing read from the registry changes who is a peer.
 */
export interface Peer {
  /** `SHA256:…` of the relay's host key. */
  readonly fingerprint: string;
  /** `file:line` of the key in the peers file. */
  readonly source: string;
  readonly comment?: string;
}

export class PeerSet {
  readonly #byBlob = new Map<string, Peer>();

  constructor(peers: Iterable<{ keyBlob: Buffer; peer: Peer }>) {
    for (const { keyBlob, peer } of peers) {
      if (!this.#byBlob.has(keyBlob.toString('base64'))) {
        this.#byBlob.set(keyBlob.toString('base64'), peer);
      }
    }
  }

  /** The peer whose host key is exactly `keyBlob`, if listed. */
  find(keyBlob: Buffer): Peer | undefined {
    return this.#byBlob.get(keyBlob.toString('base64'));
  }

  get size(): number {
    return this.#byBlob.size;
  }
}

/** Parses a peers file; bad lines are returned (`file:line: reason`) and skipped. */
export function parsePeers(
  text: string,
  file: string,
): { peers: PeerSet; errors: PolicyLineError[] } {
  const parsed = parseAuthorizedKeys(text, file);
  const peers = new PeerSet(
    parsed.entries.map((e) => ({
      keyBlob: e.keyBlob,
      peer: {
        fingerprint: e.fingerprint,
        source: `${e.file}:${e.line}`,
        ...(e.comment ? { comment: e.comment } : {}),
      },
    })),
  );
  return { peers, errors: parsed.errors };
}
