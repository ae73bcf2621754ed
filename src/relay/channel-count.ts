/**
 * The forwarded channels open on one connection, as client or as device. Each bridge counts on
 * both of its connections: the connecting path (connect.ts) takes one on each end before it asks
 * the device for a channel, and gives both back exactly once, when the bridge ends or could not
 * be made. Nothing else changes it; the relay reads it to bound channels and to see client
 * traffic while it drains.
 */
export class ChannelCount {
  #open = 0;

  get open(): number {
    return this.#open;
  }

  take(): void {
    this.#open += 1;
  }

  give(): void {
    this.#open -= 1;
  }
}
