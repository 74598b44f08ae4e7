/**
 * A small `fetch` over node:http / node:https whose connections resolve
 * host names through a given `lookup` only: the engine client passes its
 * checked resolver, so the address it checked is the address it connects
 * to, with no second lookup. ky takes it as its `fetch` option.
 *
 * Why not Node's fetch with an undici Agent: that needs the `undici`
 * package bundled (about 536 KB of the register bundle, its llhttp
 * WebAssembly included) for this one option; node:http is already there.
 *
 * What it does, and only that: one request, the Request's method, headers
 * and (buffered) body; redirects are never followed (a 3xx is handed back
 * as it is); the Request's signal aborts the connection, also while the
 * body is being read; the answer's body is streamed, not decompressed (no
 * Accept-Encoding is sent).
 */
import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { Readable } from 'node:stream';

/** The answer's status is one a fetch Response cannot carry (outside 200-599). */
export class StatusOutOfRangeError extends Error {
  override readonly name = 'StatusOutOfRangeError';
  constructor(readonly status: number) {
    super(`HTTP status ${status} is outside 200-599`);
  }
}

/** Statuses whose Response must have a null body. */
const NULL_BODY = new Set([204, 205, 304]);

export interface PinnedFetch {
  fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  /** Closes the pooled connections. */
  close(): void;
}

export function pinnedFetch(lookup: LookupFunction): PinnedFetch {
  // Own agents: kept-alive connections were opened to a checked address.
  // Idle ones are closed after 4 s (as undici's default did), so that a
  // connection that slept through a frozen execution environment is not
  // reused; a call in flight is bounded by its signal, not by this.
  const agentOptions = { keepAlive: true, scheduling: 'lifo' as const, timeout: 4000 };
  const http = new HttpAgent(agentOptions);
  const https = new HttpsAgent(agentOptions);

  const fetch = async (resource: string | URL | Request, init?: RequestInit): Promise<Response> => {
    // ky hands over the Request it built (and its own options as `init`, unused here).
    const input = resource instanceof Request ? resource : new Request(resource, init);
    const url = new URL(input.url);
    const secure = url.protocol === 'https:';
    if (!secure && url.protocol !== 'http:') throw new TypeError(`unsupported protocol ${url.protocol}`);
    const body = input.body === null ? undefined : Buffer.from(await input.arrayBuffer());
    const headers: Record<string, string> = {};
    input.headers.forEach((value, name) => {
      headers[name] = value;
    });
    if (body !== undefined) headers['content-length'] = String(body.byteLength);
    const signal = input.signal;
    signal.throwIfAborted();

    return new Promise<Response>((resolve, reject) => {
      const options = { method: input.method, headers, lookup, signal, agent: secure ? https : http };
      const onResponse = (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 599) {
          res.destroy();
          reject(new StatusOutOfRangeError(status));
          return;
        }
        const answerHeaders = new Headers();
        try {
          for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
            answerHeaders.append(res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string);
          }
        } catch (error) {
          res.destroy();
          reject(error);
          return;
        }
        if (NULL_BODY.has(status) || input.method === 'HEAD') {
          res.resume();
          resolve(new Response(null, { status, statusText: res.statusMessage ?? '', headers: answerHeaders }));
          return;
        }
        const stream = Readable.toWeb(res) as ReadableStream<Uint8Array>;
        resolve(new Response(stream, { status, statusText: res.statusMessage ?? '', headers: answerHeaders }));
      };
      const req = secure ? httpsRequest(url, options, onResponse) : httpRequest(url, options, onResponse);
      req.on('error', reject);
      req.end(body);
    });
  };

  return {
    fetch,
    close() {
      http.destroy();
      https.destroy();
    },
  };
}
