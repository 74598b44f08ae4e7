/**
 * The engine's `/admin/init` call over HTTP (spec "Engine contract").
 *
 * - One attempt, no redirects followed, one time bound for the whole call
 *   (connect, answer and body).
 * - The engine's address is checked after DNS resolution and the checked
 *   address is the one connected to: the request goes over node:http
 *   (pinned-http.ts) with a `lookup` that resolves the host with the
 *   injected resolver, checks every address with the address guard and
 *   hands back the checked one, so there is no second lookup. IP-literal
 *   hosts never reach a lookup and are checked up front.
 * - Failures are EngineCallError with short messages of our own; the
 *   underlying error (socket, DNS, parser) goes into `cause` for the logs.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import type { IncomingMessage } from 'node:http';
import { isIP, type LookupFunction } from 'node:net';
import * as v from 'valibot';
import type { EngineInitPlayer } from '../domain/engine-player.ts';
import { type EngineClient, EngineCallError } from '../ports.ts';
import { checkAddress } from './address-guard.ts';
import { type PinnedHttp, pinnedHttp } from './pinned-http.ts';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to its addresses, in the order to try them. */
export type HostResolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface HttpEngineClientOptions {
  /** ENGINE_ALLOW_LOOPBACK: allow loopback engine addresses (local runs, tests). */
  allowLoopback: boolean;
  /** Host name resolution; defaults to dns.promises.lookup with `all: true`. */
  resolve?: HostResolver;
  /** Largest engine answer read, in bytes; a longer one is a protocol violation. Default 4 MiB. */
  maxResponseBytes?: number;
}

export const DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

const STEP = 'engine init';
/** Largest delay setTimeout (and so AbortSignal.timeout) honours. */
const MAX_TIMEOUT_MS = 2_147_483_647;

/**
 * Text from the engine is bounded: it ends up in rows, messages and log
 * lines, and DynamoDB items and CloudWatch events have size limits. A
 * roster race name is at most 64 code points (128 UTF-16 units).
 */
const MAX_ENGINE_TEXT = 256;

const PlayerSchema = v.object({
  race_name: v.pipe(v.string(), v.maxLength(MAX_ENGINE_TEXT)),
  engine_player_uuid: v.pipe(v.string(), v.nonEmpty(), v.maxLength(MAX_ENGINE_TEXT)),
  planets: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  population: v.pipe(v.number(), v.finite(), v.minValue(0)),
});

/** Unknown fields are dropped, at the top level and in each player. */
const InitAnswerSchema = v.object({ players: v.array(PlayerSchema) });

/** Thrown from the connect lookup when an address is refused; found again in the request error's causes. */
class AddressRefusedError extends Error {
  override readonly name = 'AddressRefusedError';
  constructor(readonly address: string) {
    super(`address ${address} is not allowed`);
  }
}

/** Thrown from the connect lookup when the host name did not resolve. */
class HostNotResolvedError extends Error {
  override readonly name = 'HostNotResolvedError';
}

const defaultResolve: HostResolver = async (hostname) => {
  const found = await dnsLookup(hostname, { all: true });
  return found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

/**
 * `{endpoint}/admin/init`: the endpoint's path (prefix) is kept and
 * `admin/init` appended with exactly one slash between. Undefined when the
 * endpoint is not an absolute http(s) URL without credentials, query or
 * fragment.
 */
export function buildInitUrl(endpoint: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') return undefined;
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/admin/init`;
  return url;
}

function engineError(code: EngineCallError['code'], message: string, cause?: unknown): EngineCallError {
  const error = new EngineCallError(code, `${STEP}: ${message}`);
  if (cause !== undefined) error.cause = cause;
  return error;
}

/** The first error of the given class in `error`'s cause chain. */
function findCause<T extends Error>(error: unknown, type: abstract new (...args: never[]) => T): T | undefined {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current instanceof Error && !seen.has(current)) {
    if (current instanceof type) return current;
    seen.add(current);
    current = current.cause;
  }
  return undefined;
}

export class HttpEngineClient implements EngineClient {
  private readonly allowLoopback: boolean;
  private readonly resolve: HostResolver;
  private readonly maxResponseBytes: number;
  private readonly connection: PinnedHttp;

  constructor(options: HttpEngineClientOptions) {
    this.allowLoopback = options.allowLoopback;
    this.resolve = options.resolve ?? defaultResolve;
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.connection = pinnedHttp(this.lookup);
  }

  async init(endpoint: string, races: readonly string[], options: { timeoutMs: number }): Promise<EngineInitPlayer[]> {
    const url = buildInitUrl(endpoint);
    if (url === undefined) throw engineError('engine_address_refused', 'engine endpoint is not an http(s) URL');

    // IP-literal hosts are connected to without a lookup: check them here.
    const literal = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (isIP(literal) !== 0) this.assertAllowed(literal);

    const timeoutMs = Math.min(Math.floor(options.timeoutMs), MAX_TIMEOUT_MS);
    if (!(timeoutMs > 0)) throw engineError('engine_unreachable', 'no time left to call the engine');
    const signal = AbortSignal.timeout(timeoutMs);

    let answer: IncomingMessage;
    try {
      answer = await this.connection.request(url, {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/json' },
        body: JSON.stringify({ races: races.map((race_name) => ({ race_name })) }),
        signal,
      });
    } catch (error) {
      throw this.transportError(error, signal, timeoutMs);
    }

    const status = answer.statusCode ?? 0;
    if (status < 200 || status > 299) {
      // Nothing of a refused answer is read: the connection goes with it.
      answer.destroy();
      if (status >= 500 && status <= 599) throw engineError('engine_unreachable', `engine answered HTTP ${status}`);
      if (status >= 400 && status <= 499) throw engineError('engine_validation_error', `engine answered HTTP ${status}`);
      if (status >= 300 && status <= 399) {
        throw engineError('engine_protocol_violation', `engine answered with a redirect (HTTP ${status}), which is not followed`);
      }
      throw engineError('engine_protocol_violation', `engine answered HTTP ${status}`);
    }

    let text: string;
    try {
      text = await this.readBody(answer);
    } catch (error) {
      if (error instanceof EngineCallError) throw error;
      throw this.transportError(error, signal, timeoutMs);
    }

    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw engineError('engine_protocol_violation', 'engine answer is not JSON', error);
    }
    const parsed = v.safeParse(InitAnswerSchema, json);
    if (!parsed.success) {
      const first = parsed.issues[0];
      const where = first === undefined ? undefined : v.getDotPath(first);
      throw engineError(
        'engine_protocol_violation',
        `engine answer does not have the expected shape${where ? ` (at ${where})` : ''}`,
        new v.ValiError(parsed.issues),
      );
    }
    return parsed.output.players;
  }

  /** Closes the connections still open; the client cannot be used afterwards. */
  async close(): Promise<void> {
    this.connection.close();
  }

  private assertAllowed(address: string): void {
    const verdict = checkAddress(address, { allowLoopback: this.allowLoopback });
    if (!verdict.allowed) {
      throw engineError('engine_address_refused', `engine address ${address} is not allowed`, new AddressRefusedError(address));
    }
  }

  /**
   * Connect-time lookup of every connection to the engine. Every address the name resolves to
   * must be allowed (a name that points at a refused address at all is
   * refused, whatever else it points at); then the first one, in resolver
   * order, is handed back: the only address connected to.
   */
  private readonly lookup: LookupFunction = (hostname, options, callback) => {
    this.resolveChecked(hostname).then(
      (chosen) => {
        if (options.all) callback(null, [chosen]);
        else callback(null, chosen.address, chosen.family);
      },
      (error: Error) => callback(error, '', 0),
    );
  };

  private async resolveChecked(hostname: string): Promise<ResolvedAddress> {
    const literalFamily = isIP(hostname);
    let addresses: ResolvedAddress[];
    if (literalFamily !== 0) {
      addresses = [{ address: hostname, family: literalFamily === 6 ? 6 : 4 }];
    } else {
      try {
        addresses = await this.resolve(hostname);
      } catch (error) {
        throw new HostNotResolvedError('host name did not resolve', { cause: error });
      }
    }
    const first = addresses[0];
    if (first === undefined) throw new HostNotResolvedError('host name resolved to no address');
    for (const { address } of addresses) {
      if (!checkAddress(address, { allowLoopback: this.allowLoopback }).allowed) throw new AddressRefusedError(address);
    }
    return first;
  }

  private transportError(error: unknown, signal: AbortSignal, timeoutMs: number): EngineCallError {
    if (error instanceof EngineCallError) return error;
    const refused = findCause(error, AddressRefusedError);
    if (refused !== undefined) {
      return engineError('engine_address_refused', `engine address ${refused.address} is not allowed`, error);
    }
    if (signal.aborted) return engineError('engine_unreachable', `no answer within ${timeoutMs} ms`, error);
    if (findCause(error, HostNotResolvedError) !== undefined) {
      return engineError('engine_unreachable', 'engine host name did not resolve', error);
    }
    return engineError('engine_unreachable', 'connection failed', error);
  }

  /** Reads the body as UTF-8, at most maxResponseBytes of it. */
  private async readBody(answer: IncomingMessage): Promise<string> {
    const tooLarge = () =>
      engineError('engine_protocol_violation', `engine answer is larger than ${this.maxResponseBytes} bytes`);
    const declared = Number(answer.headers['content-length'] ?? Number.NaN);
    if (Number.isFinite(declared) && declared > this.maxResponseBytes) {
      answer.destroy();
      throw tooLarge();
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of answer as AsyncIterable<Buffer>) {
      size += chunk.byteLength;
      if (size > this.maxResponseBytes) {
        answer.destroy();
        throw tooLarge();
      }
      chunks.push(chunk);
    }
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
    } catch (error) {
      throw engineError('engine_protocol_violation', 'engine answer is not UTF-8 text', error);
    }
  }
}
