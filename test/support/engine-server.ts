/**
 * A local game engine for tests and `npm start`: answers `POST .../admin/init`
 * on 127.0.0.1 (never any other address). One server serves every scenario;
 * the first path segment of the engine endpoint picks the behaviour:
 *
 * | endpoint                   | answer                                               |
 * | -------------------------- | ---------------------------------------------------- |
 * | `${url}` or `${url}/ok`    | 200, one player per race (uuid, planets 3, population 120.5) |
 * | `${url}/status-NNN`        | HTTP NNN with a small JSON body                       |
 * | `${url}/hang`              | never answers                                         |
 * | `${url}/hang-body`         | 200 headers and half a body, then nothing             |
 * | `${url}/redirect`          | 307 to `${url}/ok/admin/init` (following it would succeed) |
 * | `${url}/wrong-roster`      | ok, without the last player                           |
 * | `${url}/renamed-race`      | ok, the first race renamed                            |
 * | `${url}/duplicate-race`    | ok, the first race repeated in place of the last      |
 * | `${url}/not-json`          | 200 text/plain garbage                                |
 * | `${url}/bad-shape`         | 200 JSON with planets -1                              |
 * | `${url}/missing-uuid`      | 200 JSON without engine_player_uuid                   |
 * | `${url}/slow-MS`           | ok after MS milliseconds                              |
 * | `${url}/oversized`         | 200, a valid answer padded past 5 MiB, chunked        |
 *
 * Any path must end in `/admin/init` (else 404), and a path with an empty
 * segment (`//`) is answered 404 too, so tests see a wrongly joined URL.
 * `setNextHandler` replaces the behaviour for the next request only;
 * `holdNext` holds the next request (a latch) until the test releases it.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface EngineCall {
  method: string;
  path: string;
  /** The parsed JSON body, or the raw text when it is not JSON. */
  body: unknown;
}

export type EngineHandler = (req: IncomingMessage, res: ServerResponse, body: unknown) => void;

export interface EngineServer {
  /** Base URL, `http://127.0.0.1:PORT`, without a trailing slash. */
  url: string;
  port: number;
  /** Every request received, in order. */
  calls: EngineCall[];
  /** Handles the next request with `handler` instead of the scenario. */
  setNextHandler(handler: EngineHandler): void;
  /**
   * Holds the next request until `release()`, then answers it as its
   * scenario says; `arrived` resolves when it is being held. Orders a test's
   * events without sleeping.
   */
  holdNext(): EngineLatch;
  /** Stops listening and destroys every open connection (hung ones too). */
  close(): Promise<void>;
}

export interface EngineLatch {
  arrived: Promise<void>;
  release(): void;
}

interface InitBody {
  races?: { race_name?: unknown }[];
}

function raceNames(body: unknown): string[] {
  const races = (body as InitBody | null)?.races;
  if (!Array.isArray(races)) return [];
  return races.map((r) => String(r?.race_name ?? ''));
}

/** What a healthy engine reports for every player. */
export const HEALTHY_PLAYER = { planets: 3, population: 120.5 } as const;

function players(races: string[]): { race_name: string; engine_player_uuid: string; planets: number; population: number }[] {
  return races.map((race_name) => ({ race_name, engine_player_uuid: randomUUID(), ...HEALTHY_PLAYER }));
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Answers an init request with one player per race, as a healthy engine does (for custom handlers). */
export function answerRoster(res: ServerResponse, body: unknown): void {
  sendJson(res, 200, { players: players(raceNames(body)) });
}

export async function startEngineServer(options: { port?: number } = {}): Promise<EngineServer> {
  const calls: EngineCall[] = [];
  const sockets = new Set<Socket>();
  let nextHandler: EngineHandler | undefined;
  let baseUrl = '';

  const scenario = (req: IncomingMessage, res: ServerResponse, body: unknown): void => {
    const path = new URL(req.url ?? '/', 'http://engine.invalid').pathname;
    if (req.method !== 'POST' || !path.endsWith('/admin/init') || path.includes('//')) {
      sendJson(res, 404, { error: 'not found' });
      return;
    }
    const segments = path.split('/').filter((s) => s !== '');
    const first = segments.length > 2 ? (segments[0] ?? '') : 'ok';
    const races = raceNames(body);

    const status = /^status-(\d{3})$/.exec(first);
    if (status) {
      sendJson(res, Number(status[1]), { error: `scenario ${first}` });
      return;
    }
    const slow = /^slow-(\d+)$/.exec(first);
    if (slow) {
      const timer = setTimeout(() => sendJson(res, 200, { players: players(races) }), Number(slow[1]));
      res.on('close', () => clearTimeout(timer));
      return;
    }
    switch (first) {
      case 'hang':
        return;
      case 'hang-body': {
        const text = JSON.stringify({ players: players(races) });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.write(text.slice(0, Math.floor(text.length / 2)));
        return;
      }
      case 'redirect':
        res.writeHead(307, { location: `${baseUrl}/ok/admin/init`, 'content-length': 0 });
        res.end();
        return;
      case 'wrong-roster':
        sendJson(res, 200, { players: players(races.slice(0, -1)) });
        return;
      case 'renamed-race':
        sendJson(res, 200, { players: players(races.map((r, i) => (i === 0 ? `${r} Renamed` : r))) });
        return;
      case 'duplicate-race':
        sendJson(res, 200, { players: players(races.map((r, i) => (i === races.length - 1 && races.length > 1 ? (races[0] ?? r) : r))) });
        return;
      case 'not-json':
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('<html>definitely not json');
        return;
      case 'bad-shape':
        sendJson(res, 200, { players: players(races).map((p) => ({ ...p, planets: -1 })) });
        return;
      case 'missing-uuid':
        sendJson(res, 200, { players: players(races).map(({ engine_player_uuid: _, ...p }) => p) });
        return;
      case 'oversized': {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(`{"players":${JSON.stringify(players(races))},"padding":"`);
        const chunk = 'x'.repeat(64 * 1024);
        for (let i = 0; i < 80; i++) res.write(chunk);
        res.end('"}');
        return;
      }
      case 'ok':
        sendJson(res, 200, { players: players(races) });
        return;
      default:
        sendJson(res, 404, { error: `unknown scenario ${first}` });
    }
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // keep the raw text
      }
      calls.push({ method: req.method ?? '', path: req.url ?? '', body });
      const handler = nextHandler ?? scenario;
      nextHandler = undefined;
      handler(req, res, body);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://127.0.0.1:${port}`;

  return {
    url: baseUrl,
    port,
    calls,
    setNextHandler(handler) {
      nextHandler = handler;
    },
    holdNext() {
      let arrive = () => {};
      let release = () => {};
      const arrived = new Promise<void>((resolve) => {
        arrive = resolve;
      });
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      nextHandler = (req, res, body) => {
        arrive();
        void released.then(() => {
          if (!res.destroyed) scenario(req, res, body);
        });
      };
      return { arrived, release };
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
