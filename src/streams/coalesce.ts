import type { Writable } from 'node:stream';

/**
 * Writes made in one event-loop turn go out together. ssh2 writes every SSH packet with its own
 * socket.write (and the shim writes a frame's header and payload separately), so a handshake or a
 * burst of data would cost one syscall per write. Corking on the first write of an event-loop turn and
 * uncorking on the next tick sends the whole turn's packets in one writev, same bytes, same order.
 */
export function coalesceWrites(socket: Writable): void {
  const write = socket.write;
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  socket.write = function (this: Writable, ...args: Parameters<Writable['write']>) {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return write.apply(this, args);
  } as Writable['write'];
}
