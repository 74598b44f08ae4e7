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
 * measured with `npm run bench`, see the README's Performance section).
 * The import of node:http below would do the same (its ESM namespace reads
 * the lazy `WebSocket` getters): in the bundle it is resolved to
 * `process.getBuiltinModule('node:http')` by infra/esbuild-plugins.cjs.
 *
 * What it does, and only that: one request with the given method, headers
 * and body; redirects are never followed (a 3xx is handed back as it is);
 * the signal aborts the connection, also while the body is being read;
 * the answer is not decompressed (no Accept-Encoding is sent).
 */
import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';

export interface PinnedRequest {
  method: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  signal: AbortSignal;
}

export interface PinnedHttp {
  /** Resolves with the answer once its status and headers are in; its body is read from the stream. */
  request(url: URL, init: PinnedRequest): Promise<IncomingMessage>;
  /** Closes the pooled connections. */
  close(): void;
}

export function pinnedHttp(lookup: LookupFunction): PinnedHttp {
  // Own agents: kept-alive connections were opened to a checked address.
  // Idle ones are closed after 4 s, so that a connection that slept through
  // a frozen execution environment is not reused; a call in flight is
  // bounded by its signal, not by this.
  const agentOptions = { keepAlive: true, scheduling: 'lifo' as const, timeout: 4000 };
  const plain = new HttpAgent(agentOptions);
  const secure = new HttpsAgent(agentOptions);

  return {
    request(url, { method, headers, body, signal }) {
      const tls = url.protocol === 'https:';
      if (!tls && url.protocol !== 'http:') return Promise.reject(new TypeError(`unsupported protocol ${url.protocol}`));
      if (signal.aborted) return Promise.reject(signal.reason);
      const all = body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) };
      return new Promise<IncomingMessage>((resolve, reject) => {
        const options = { method, headers: all, lookup, signal, agent: tls ? secure : plain };
        const req = tls ? httpsRequest(url, options, resolve) : httpRequest(url, options, resolve);
        req.on('error', reject);
        req.end(body);
      });
    },
    close() {
      plain.destroy();
      secure.destroy();
    },
  };
}
