/**
 * A loopback HTTP proxy in front of DynamoDB Local that can hold chosen
 * requests forever (until closed), so a test can kill a registration at a
 * precise point: after some writes landed, before the next one.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface HeldRequest {
  target: string;
  body: string;
}

export interface DynamoProxy {
  url: string;
  /** Requests matching this are never forwarded nor answered. */
  holdIf(predicate: ((req: HeldRequest) => boolean) | undefined): void;
  /** Resolves with the first request held after this call. */
  nextHeld(): Promise<HeldRequest>;
  /** Operations (X-Amz-Target suffix) forwarded so far, in order. */
  forwarded: string[];
  close(): Promise<void>;
}

export async function startDynamoProxy(upstream: string): Promise<DynamoProxy> {
  const target = new URL(upstream);
  const sockets = new Set<Socket>();
  let hold: ((req: HeldRequest) => boolean) | undefined;
  let waiters: ((req: HeldRequest) => void)[] = [];
  const forwarded: string[] = [];

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const held: HeldRequest = { target: String(req.headers['x-amz-target'] ?? ''), body: body.toString('utf8') };
      if (hold?.(held)) {
        const w = waiters;
        waiters = [];
        for (const resolve of w) resolve(held);
        return; // never answered
      }
      forwarded.push(held.target.split('.').pop() ?? '');
      const upstreamReq = httpRequest(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode ?? 500, up.headers);
          up.pipe(res);
        },
      );
      upstreamReq.on('error', () => res.destroy());
      upstreamReq.end(body);
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    forwarded,
    holdIf(predicate) {
      hold = predicate;
    },
    nextHeld() {
      return new Promise((resolve) => waiters.push(resolve));
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
