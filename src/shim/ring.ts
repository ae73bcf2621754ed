/**
 * Memory to read a stream's bytes straight into and keep them where they landed until they are
 * released, in the order they were filled (pure: no sockets, timers or fs). The shim reads its
 * bulk sources into one of these (a socket's `onread` buffer), so a transfer allocates nothing per
 * read and each read can take up to a MiB: the regions handed out are views of one Buffer, and a
 * region stays untouched until release() has passed it (the peer acknowledged those bytes).
 *
 * Regions are contiguous: when the end of the memory has too little room for a useful read, the
 * rest of it is skipped (counted in use until the release passes it) and the next region starts
 * at the beginning.
 */
export class ReadRing {
  readonly capacity: number;
  /** The smallest region worth a read; less free contiguous room than this counts as full. */
  readonly minRegion: number;
  private readonly mem: Buffer;
  /** Where the next region starts. */
  private head = 0;
  /** The oldest byte in use. */
  private tail = 0;
  /** Bytes in use from tail to head, a skipped end included. */
  private used = 0;
  /** Where a skipped end begins (head has wrapped past it); -1 when none is skipped. */
  private skipAt = -1;
  /** The region last handed out (filled() reports what was read into it). */
  private offeredAt = 0;
  private offered = 0;

  constructor(capacity: number, minRegion: number) {
    if (!Number.isSafeInteger(capacity) || !Number.isSafeInteger(minRegion) || minRegion < 1) {
      throw new RangeError(`bad ring size ${capacity} / ${minRegion}`);
    }
    if (capacity < minRegion) throw new RangeError(`ring of ${capacity} < region ${minRegion}`);
    this.capacity = capacity;
    this.minRegion = minRegion;
    this.mem = Buffer.allocUnsafeSlow(capacity); // its own memory, never the shared pool's
  }

  /** Bytes in use (filled, not yet released), a skipped end included. */
  get inUse(): number {
    return this.used;
  }

  /** Whether `chunk` is a view of this ring's memory. */
  owns(chunk: Buffer): boolean {
    return chunk.buffer === this.mem.buffer;
  }

  /**
   * Where the next read may put up to `max` bytes: a view of free memory, at least minRegion long,
   * or an empty Buffer when there is no such room (stop reading until release() makes some).
   */
  region(max: number): Buffer {
    this.offered = 0;
    if (this.used === 0) {
      this.head = 0;
      this.tail = 0;
      this.skipAt = -1;
    }
    let room: number;
    if (this.head > this.tail || (this.head === this.tail && this.used === 0)) {
      room = this.capacity - this.head;
      if (room < this.minRegion && this.tail >= this.minRegion) {
        // Skip the end; start again at the beginning.
        this.skipAt = this.head;
        this.used += room;
        this.head = 0;
        room = this.tail;
      }
    } else {
      room = this.tail - this.head; // wrapped (or full: head === tail with bytes in use)
    }
    if (room < this.minRegion) return Buffer.alloc(0);
    this.offeredAt = this.head;
    this.offered = Math.min(room, max);
    return this.mem.subarray(this.head, this.head + this.offered);
  }

  /**
   * `n` bytes were read into the start of the region last handed out: returns them; they are
   * now in use. That region is the only one outstanding: region() is called once per read.
   */
  filled(n: number): Buffer {
    if (!Number.isSafeInteger(n) || n < 0 || n > this.offered || this.offeredAt !== this.head) {
      throw new RangeError(`filled ${n} bytes of a ${this.offered}-byte region`);
    }
    const bytes = this.mem.subarray(this.head, this.head + n);
    this.head += n;
    this.used += n;
    this.offered = 0;
    if (this.head === this.capacity) this.head = 0;
    return bytes;
  }

  /** The oldest `n` filled bytes are no longer needed: their memory may be handed out again. */
  release(n: number): void {
    const filledInUse = this.used - (this.skipAt >= 0 ? this.capacity - this.skipAt : 0);
    if (!Number.isSafeInteger(n) || n < 0 || n > filledInUse) {
      throw new RangeError(`release of ${n} bytes; ${filledInUse} in use`);
    }
    for (;;) {
      if (this.skipAt >= 0 && this.tail === this.skipAt) {
        this.used -= this.capacity - this.skipAt;
        this.tail = 0;
        this.skipAt = -1;
      }
      if (n === 0) break;
      const end = this.skipAt >= 0 && this.tail < this.skipAt ? this.skipAt : this.capacity;
      const step = Math.min(n, end - this.tail);
      this.tail += step;
      this.used -= step;
      n -= step;
      if (this.tail === this.capacity) this.tail = 0;
    }
  }
}
