/**
 * A TCP/unix-socket forwarder run as its own process (often inside a network namespace, through
 * `ip netns exec`), used by netns.ts to carry a connection across a veth link:
 *
 *   node netns-forward.js LISTEN CONNECT [DELAY_MS]
 *
 * LISTEN and CONNECT are `tcp:HOST:PORT` or `unix:PATH`. LISTEN `tcp:HOST:0` picks a port. Once
 * listening it prints `listening PORT` (0 for a unix socket) on stdout. Every accepted connection
 * gets its own outgoing connection; bytes are copied both ways, half-closes passed on, and an error
 * on either side destroys both. With DELAY_MS every chunk is held that long before it is written
 * on (order kept, bandwidth not limited): a fixed one-way latency, as netem would add.
 */
import { unlinkSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';

type Endpoint = { host: string; port: number } | { path: string };

function parseEndpoint(text: string | undefined): Endpoint {
  const m = /^tcp:(.+):(\d+)$/.exec(text ?? '');
  if (m) return { host: m[1] as string, port: Number(m[2]) };
  if (text?.startsWith('unix:')) return { path: text.slice(5) };
  throw new Error(
    `netns-forward: bad endpoint ${JSON.stringify(text)} (tcp:HOST:PORT | unix:PATH)`,
  );
}

/** Copies `from` to `to`, each chunk written `delayMs` after it was read; passes EOF on in order. */
function carry(from: Socket, to: Socket, delayMs: number): void {
  if (delayMs <= 0) {
    from.pipe(to);
    return;
  }
  let pending = 0;
  let ended = false;
  from.on('data', (chunk: Buffer) => {
    pending++;
    setTimeout(() => {
      pending--;
      if (!to.destroyed) to.write(chunk);
      if (ended && pending === 0) to.end();
    }, delayMs);
  });
  from.on('end', () => {
    ended = true;
    if (pending === 0) setTimeout(() => to.end(), delayMs);
  });
}

const [listenArg, connectArg, delayArg] = process.argv.slice(2);
const listenAt = parseEndpoint(listenArg);
const target = parseEndpoint(connectArg);
const delayMs = Number(delayArg ?? 0);

const server = createServer({ allowHalfOpen: true }, (inbound) => {
  const outbound = connect({ ...target, allowHalfOpen: true });
  const destroyBoth = (): void => {
    inbound.destroy();
    outbound.destroy();
  };
  inbound.on('error', destroyBoth);
  outbound.on('error', destroyBoth);
  inbound.on('close', () => outbound.destroy());
  outbound.on('close', () => inbound.destroy());
  if ('host' in target) outbound.setNoDelay(true);
  if ('port' in listenAt) inbound.setNoDelay(true);
  carry(inbound, outbound, delayMs);
  carry(outbound, inbound, delayMs);
});
if ('path' in listenAt) {
  try {
    unlinkSync(listenAt.path);
  } catch {
    // not there yet
  }
}
server.listen(listenAt, () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`);
});
