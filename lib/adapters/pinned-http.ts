/**
 * One HTTP request over node:http / node:https whose connections resolve
 * host names through a given `lookup` only: the engine client passes its
 * checked resolver, so the address it checked is the address it connects
 * to, with no second lookup.
 *
 * Plain node:http on purpose, no WHATWG `fetch`/`Request`/`Response`: the
 * first `Request`, `Response` or `Headers` a process builds loads Node's
 * own fetch (its bundled undici and web streams), tens of ms of CPU at
 * every cold start (ky builds a probe `Request` as soon as it is imported;
 * measured with `npm run bench`, see docs/performance.md).
 * The import of node:http below would do the same (its ESM namespace reads
 * the lazy `WebSocket` getters): in the bundle it is resolved to
 * `process.getBuiltinModule('node:http')` by infra/esbuild-plugins.cjs.
 *
 * What it does, and only that: one request with the given method, headers
 * and body, on a connection of its own; redirects are never followed (a
 * 3xx is handed back as it is, and so is a 101); the signal aborts the
 * connection, also while the body is being read; the answer is not
 * decompressed (no Accept-Encoding is sent).
 */
import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { Duplex } from 'node:stream';

export interface PinnedRequest {
  method: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  signal: AbortSignal;
}

export interface PinnedHttp {
  /** Resolves with the answer once its status and headers are in; its body is read from the stream. */
  request(url: URL, init: PinnedRequest): Promise<IncomingMessage>;
  /** Closes the connections still open (a call in flight fails). */
  close(): void;
}

export function pinnedHttp(lookup: LookupFunction): PinnedHttp {
  // A connection per call, never kept alive: each registration calls its
  // game's engine once, so a kept connection would almost never be used
  // again, and when it were, an engine closing it as idle at the moment the
  // next call goes out would fail that call, which is never retried. Every
  // call resolves and checks the address anew. Own agents, so that close()
  // can end whatever is still open.
  const plain = new HttpAgent({ keepAlive: false });
  const secure = new HttpsAgent({ keepAlive: false });

  return {
    request(url, { method, headers, body, signal }) {
      const tls = url.protocol === 'https:';
      if (!tls && url.protocol !== 'http:') return Promise.reject(new TypeError(`unsupported protocol ${url.protocol}`));
      if (signal.aborted) return Promise.reject(signal.reason);
      const all = body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) };
      return new Promise<IncomingMessage>((resolve, reject) => {
        const options = { method, headers: all, lookup, signal, agent: tls ? secure : plain };
        const req = tls ? httpsRequest(url, options) : httpRequest(url, options);
        // Settled by the answer, an error or the signal, whichever comes
        // first: the signal bounds the wait even where Node reports neither.
        const onAbort = () => {
          req.destroy();
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        const settle = () => signal.removeEventListener('abort', onAbort);
        req.on('response', (answer: IncomingMessage) => {
          settle();
          resolve(answer);
        });
        // A 101 with an Upgrade header: without this listener Node drops the
        // socket and reports nothing at all. It is handed back like any
        // answer (the caller judges its status), its connection closed.
        req.on('upgrade', (answer: IncomingMessage, socket: Duplex) => {
          socket.destroy();
          settle();
          resolve(answer);
        });
        req.on('error', (error) => {
          settle();
          reject(error);
        });
        req.end(body);
      });
    },
    close() {
      plain.destroy();
      secure.destroy();
    },
  };
}
