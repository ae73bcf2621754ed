/**
 * A small auth webhook for tests: a real HTTP server on loopback whose answer the test sets, and
 * which records every request it gets. Closed (with every socket it accepted) when the scope ends.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Scope } from './scope.js';

export interface HookRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: unknown;
}

/**
 * What the hook does with the next request: answer JSON or raw text (after `delayMs`), or never
 * answer.
 */
export type HookReply =
  | { readonly status?: number; readonly json: unknown; readonly delayMs?: number }
  | { readonly status?: number; readonly text: string; readonly delayMs?: number }
  | { readonly hang: true };

export interface TestHook {
  readonly port: number;
  readonly url: string;
  readonly requests: HookRequest[];
  /** Sets the reply to every request from now on. */
  reply(r: HookReply | ((req: HookRequest) => HookReply)): void;
  /** Stops listening and cuts every connection (the hook is down). */
  close(): Promise<void>;
}

export async function startHook(scope: Scope, initial: HookReply): Promise<TestHook> {
  let replier: (req: HookRequest) => HookReply = () => initial;
  const requests: HookRequest[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        body = Buffer.concat(chunks).toString('utf8');
      }
      const r = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
      requests.push(r);
      const reply = replier(r);
      if ('hang' in reply) return;
      const text = 'json' in reply ? JSON.stringify(reply.json) : reply.text;
      const send = () => {
        res.writeHead(reply.status ?? 200, { 'content-type': 'application/json' });
        res.end(text);
      };
      if (reply.delayMs) setTimeout(send, reply.delayMs);
      else send();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
    return closed;
  };
  scope.defer(close, 'test auth webhook');
  return {
    port,
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    reply(r) {
      replier = typeof r === 'function' ? r : () => r;
    },
    close,
  };
}
