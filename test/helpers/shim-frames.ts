/**
 * For tests that compare decoded shim frames with the frames that were encoded.
 */
import type { Frame } from '../../src/shim/frames.js';

/**
 * Joins data frames that continue one another (same stream, each starting where the last ended):
 * the decoder returns a payload in one piece per chunk it spans, so decoded frames are compared
 * with the expected ones after both are joined. Other frames, and data frames that do not
 * continue the one before, are kept as they are, in order.
 */
export function joined(frames: Frame[]): Frame[] {
  const out: Frame[] = [];
  for (const f of frames) {
    const last = out.at(-1);
    if (
      f.type === 'data' &&
      last?.type === 'data' &&
      last.stream === f.stream &&
      last.offset + last.payload.length === f.offset
    ) {
      out[out.length - 1] = { ...last, payload: Buffer.concat([last.payload, f.payload]) };
    } else out.push(f);
  }
  return out;
}
