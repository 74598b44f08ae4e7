/**
 * HttpEngineClient against the local engine (test/support/engine-server.ts).
 * Every connection goes to 127.0.0.1: refusals of other addresses are
 * exercised through an injected resolver, and the assertion that matters is
 * that the engine never saw a call.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildInitUrl, type HostResolver, HttpEngineClient } from '../../lib/adapters/engine-client.ts';
import { EngineCallError } from '../../lib/ports.ts';
import { type EngineServer, startEngineServer } from '../support/engine-server.ts';

const RACES = ['Zorgons', 'Vellani', 'Krell'] as const;
const TIMEOUT = { timeoutMs: 5_000 };

let engine: EngineServer;
const clients: HttpEngineClient[] = [];

function client(options: { allowLoopback?: boolean; resolve?: HostResolver; maxResponseBytes?: number } = {}): HttpEngineClient {
  const created = new HttpEngineClient({ allowLoopback: options.allowLoopback ?? true, ...options });
  clients.push(created);
  return created;
}

/** The EngineCallError `promise` rejects with (fails the test if it resolves or rejects otherwise). */
async function failure(promise: Promise<unknown>): Promise<EngineCallError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EngineCallError);
  return error as EngineCallError;
}

/** Messages are ours: no socket or resolver text leaks into them. */
function expectOwnWords(error: EngineCallError): void {
  expect(error.message).toMatch(/^engine init: /);
  expect(error.message).not.toMatch(/ECONNREFUSED|ENOTFOUND|getaddrinfo|fetch failed|TypeError|undici|AbortError|aborted/i);
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  engine = await startEngineServer();
});

afterEach(() => {
  engine.calls.length = 0;
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await engine.close();
});

describe('Class: HttpEngineClient', () => {
  describe('Method: init', () => {
    it('returns the players of a 200 answer and sends the races in roster order', async () => {
      // Prepare
      const engineClient = client();
      // Act
      const players = await engineClient.init(engine.url, RACES, TIMEOUT);
      // Assess
      expect(players.map((p) => p.race_name)).toEqual([...RACES]);
      for (const p of players) {
        expect(p.engine_player_uuid).not.toBe('');
        expect(p.planets).toBe(3);
        expect(p.population).toBe(120.5);
      }
      expect(engine.calls).toEqual([
        { method: 'POST', path: '/admin/init', body: { races: [{ race_name: 'Zorgons' }, { race_name: 'Vellani' }, { race_name: 'Krell' }] } },
      ]);
    });

    it('keeps the order of a roster given in another order', async () => {
      // Prepare
      const engineClient = client();
      const roster = ['Krell', 'Zorgons', 'Vellani'];
      // Act
      await engineClient.init(`${engine.url}/ok`, roster, TIMEOUT);
      // Assess
      expect(engine.calls[0]?.body).toEqual({ races: roster.map((race_name) => ({ race_name })) });
    });

    it.each([
      ['a trailing slash', (url: string) => `${url}/ok/`, '/ok/admin/init'],
      ['a path prefix', (url: string) => `${url}/ok/engines/g1`, '/ok/engines/g1/admin/init'],
      ['a path prefix and a trailing slash', (url: string) => `${url}/ok/engines/g1/`, '/ok/engines/g1/admin/init'],
      ['several trailing slashes', (url: string) => `${url}/ok//`, '/ok/admin/init'],
      ['a bare origin with a slash', (url: string) => `${url}/`, '/admin/init'],
    ])('appends /admin/init with exactly one slash to an endpoint with %s', async (_, endpoint, expectedPath) => {
      // Prepare
      const engineClient = client();
      // Act
      const players = await engineClient.init(endpoint(engine.url), RACES, TIMEOUT);
      // Assess
      expect(players).toHaveLength(RACES.length);
      expect(engine.calls.map((c) => c.path)).toEqual([expectedPath]);
    });

    it('returns only the known fields, ignoring extra ones', async () => {
      // Prepare
      const engineClient = client();
      engine.setNextHandler((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            version: 'x',
            players: [{ race_name: 'Zorgons', engine_player_uuid: 'u-1', planets: 0, population: 0, home: 'Sol', extra: { a: 1 } }],
          }),
        );
      });
      // Act
      const players = await engineClient.init(engine.url, ['Zorgons'], TIMEOUT);
      // Assess
      expect(players).toEqual([{ race_name: 'Zorgons', engine_player_uuid: 'u-1', planets: 0, population: 0 }]);
    });

    it('connects through the injected resolver: a made-up host name mapped to 127.0.0.1 reaches the local engine, with one lookup', async () => {
      // Prepare
      const lookups: string[] = [];
      const engineClient = client({
        resolve: async (hostname) => {
          lookups.push(hostname);
          return [{ address: '127.0.0.1', family: 4 }];
        },
      });
      // Act
      const players = await engineClient.init(`http://galaxy-game-g1:${engine.port}/ok`, RACES, TIMEOUT);
      // Assess
      expect(players).toHaveLength(RACES.length);
      expect(lookups).toEqual(['galaxy-game-g1']);
      expect(engine.calls.map((c) => c.path)).toEqual(['/ok/admin/init']);
    });

    it('does not return the players of a second engine: a 2xx is required from this call alone', async () => {
      // Prepare: nothing; the redirect scenario answers 307 to a URL that would answer 200.
      const engineClient = client();
      // Act
      const error = await failure(engineClient.init(`${engine.url}/redirect`, RACES, TIMEOUT));
      // Assess
      expect(error.code).toBe('engine_protocol_violation');
      expect(error.message).toBe('engine init: engine answered with a redirect (HTTP 307), which is not followed');
      expect(engine.calls.map((c) => c.path)).toEqual(['/redirect/admin/init']);
    });

    it.each([
      [500, 'engine_unreachable'],
      [502, 'engine_unreachable'],
      [503, 'engine_unreachable'],
      [504, 'engine_unreachable'],
      [400, 'engine_validation_error'],
      [404, 'engine_validation_error'],
      [409, 'engine_validation_error'],
      [422, 'engine_validation_error'],
      [300, 'engine_protocol_violation'],
      [301, 'engine_protocol_violation'],
      [302, 'engine_protocol_violation'],
      [303, 'engine_protocol_violation'],
      [308, 'engine_protocol_violation'],
    ] as const)('classifies HTTP %i as %s', async (status, code) => {
      // Prepare
      const engineClient = client();
      // Act
      const error = await failure(engineClient.init(`${engine.url}/status-${status}`, RACES, TIMEOUT));
      // Assess
      expect(error.code).toBe(code);
      expectOwnWords(error);
      expect(error.message).toContain(`HTTP ${status}`);
      expect(engine.calls).toHaveLength(1);
    });

    it('refuses a status outside 100-599 (HTTP 600) as a protocol violation', async () => {
      // Prepare
      const engineClient = client();
      engine.setNextHandler((_req, res) => {
        res.writeHead(600);
        res.end('{"players":[]}');
      });
      // Act
      const error = await failure(engineClient.init(engine.url, RACES, TIMEOUT));
      // Assess
      expect(error.code).toBe('engine_protocol_violation');
      expect(error.message).toBe('engine init: engine answered HTTP 600');
    });

    it('opens a connection of its own per call, to an address checked for that call: two calls, two lookups, two connections, none kept alive', async () => {
      // Prepare: each answer records the connection it came on.
      const lookups: string[] = [];
      const engineClient = client({
        resolve: async (hostname) => {
          lookups.push(hostname);
          return [{ address: '127.0.0.1', family: 4 }];
        },
      });
      const seen: { port: number | undefined; connection: string | undefined }[] = [];
      const answerOk = (req: IncomingMessage, res: ServerResponse) => {
        seen.push({ port: req.socket.remotePort, connection: req.headers.connection });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ players: RACES.map((race_name, i) => ({ race_name, engine_player_uuid: `p-${i}`, planets: 1, population: 1 })) }));
      };
      // Act
      engine.setNextHandler(answerOk);
      await engineClient.init(`http://galaxy-game-g1:${engine.port}/ok`, RACES, TIMEOUT);
      engine.setNextHandler(answerOk);
      await engineClient.init(`http://galaxy-game-g1:${engine.port}/ok`, RACES, TIMEOUT);
      // Assess
      expect(lookups).toEqual(['galaxy-game-g1', 'galaxy-game-g1']);
      expect(engine.calls).toHaveLength(2);
      expect(seen.map((c) => c.connection)).toEqual(['close', 'close']);
      expect(seen[0]?.port).not.toBe(seen[1]?.port);
    });

    it.each([
      ['and keeps the connection open', false],
      ['and closes the connection', true],
    ])('refuses a 101 Switching Protocols with an Upgrade header as a protocol violation, at once (%s)', async (_label, closeAfter) => {
      // Prepare: a raw engine that switches protocols instead of answering
      // (Node's client reports neither an answer nor an error for it unless told).
      const raw = createServer((socket) => {
        socket.once('data', () => {
          socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
          if (closeAfter) socket.end();
        });
        socket.on('error', () => undefined);
      });
      await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
      const { port } = raw.address() as AddressInfo;
      const engineClient = client();
      try {
        // Act: a timeout far beyond the test's own, so only an answer settles it.
        const error = await failure(engineClient.init(`http://127.0.0.1:${port}`, RACES, { timeoutMs: 600_000 }));
        // Assess
        expect(error.code).toBe('engine_protocol_violation');
        expect(error.message).toBe('engine init: engine answered HTTP 101');
      } finally {
        raw.close();
      }
    });

    it('names the status in the message of a 503', async () => {
      // Prepare
      const engineClient = client();
      // Act
      const error = await failure(engineClient.init(`${engine.url}/status-503`, RACES, TIMEOUT));
      // Assess
      expect(error.message).toBe('engine init: engine answered HTTP 503');
    });

    it.each([
      ['a 2xx that is not JSON', 'not-json', 'engine init: engine answer is not JSON'],
      ['planets below zero', 'bad-shape', 'engine init: engine answer does not have the expected shape (at players.0.planets)'],
      ['a player without engine_player_uuid', 'missing-uuid', 'engine init: engine answer does not have the expected shape (at players.0.engine_player_uuid)'],
    ])('refuses %s as a protocol violation', async (_, scenario, message) => {
      // Prepare
      const engineClient = client();
      // Act
      const error = await failure(engineClient.init(`${engine.url}/${scenario}`, RACES, TIMEOUT));
      // Assess
      expect(error.code).toBe('engine_protocol_violation');
      expect(error.message).toBe(message);
      expect(error.cause).toBeDefined();
    });

    it.each([
      ['no players field', { players_: [] }],
      ['players not an array', { players: {} }],
      ['a JSON array', []],
      ['JSON null', null],
      ['an empty uuid', { players: [{ race_name: 'Zorgons', engine_player_uuid: '', planets: 1, population: 1 }] }],
      ['a fractional planets count', { players: [{ race_name: 'Zorgons', engine_player_uuid: 'u', planets: 1.5, population: 1 }] }],
      ['planets as a string', { players: [{ race_name: 'Zorgons', engine_player_uuid: 'u', planets: '3', population: 1 }] }],
      ['a negative population', { players: [{ race_name: 'Zorgons', engine_player_uuid: 'u', planets: 1, population: -0.5 }] }],
      ['a race name that is not a string', { players: [{ race_name: 7, engine_player_uuid: 'u', planets: 1, population: 1 }] }],
      ['a race name over 256 characters', { players: [{ race_name: 'X'.repeat(257), engine_player_uuid: 'u', planets: 1, population: 1 }] }],
      ['a uuid over 256 characters', { players: [{ race_name: 'Zorgons', engine_player_uuid: 'u'.repeat(257), planets: 1, population: 1 }] }],
    ])('refuses an answer with %s', async (_, answer) => {
      // Prepare
      const engineClient = client();
      engine.setNextHandler((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer));
      });
      // Act
      const error = await failure(engineClient.init(engine.url, ['Zorgons'], TIMEOUT));
      // Assess
      expect(error.code).toBe('engine_protocol_violation');
    });

    it('refuses an infinite population (1e999 in the JSON text)', async () => {
      // Prepare
      const engineClient = client();
      engine.setNextHandler((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"players":[{"race_name":"Zorgons","engine_player_uuid":"u","planets":1,"population":1e999}]}');
      });
      // Act
      const error = await failure(engineClient.init(engine.url, ['Zorgons'], TIMEOUT));
      // Assess
      expect(error.code).toBe('engine_protocol_violation');
    });

    it.each([
      ['wrong-roster', ['Zorgons', 'Vellani']],
      ['renamed-race', ['Zorgons Renamed', 'Vellani', 'Krell']],
      ['duplicate-race', ['Zorgons', 'Vellani', 'Zorgons']],
    ])('returns the %s answer as the engine gave it (roster matching is the use case’s job)', async (scenario, expected) => {
      // Prepare
      const engineClient = client();
      // Act
      const players = await engineClient.init(`${engine.url}/${scenario}`, RACES, TIMEOUT);
      // Assess
      expect(players.map((p) => p.race_name)).toEqual(expected);
    });

    it('refuses an answer larger than the size bound, without a content-length', async () => {
      // Prepare: the oversized scenario streams a valid answer padded past 5 MiB.
      const engineClient = client();
      // Act
      const error = await failure(engineClient.init(`${engine.url}/oversized`, RACES, TIMEOUT));
      // Assess
      expect(error.code).toBe('engine_protocol_violation');
      expect(error.message).toBe('engine init: engine answer is larger than 4194304 bytes');
    });

    it('refuses an answer whose content-length exceeds a configured bound', async () => {
      // Prepare
      const engineClient = client({ maxResponseBytes: 64 });
      // Act
      const error = await failure(engineClient.init(engine.url, RACES, TIMEOUT));
      // Assess
      expect(error.code).toBe('engine_protocol_violation');
      expect(error.message).toBe('engine init: engine answer is larger than 64 bytes');
    });

    it('answers engine_unreachable within a generous bound when the engine never answers', async () => {
      // Prepare
      const engineClient = client();
      const started = performance.now();
      // Act
      const error = await failure(engineClient.init(`${engine.url}/hang`, RACES, { timeoutMs: 300 }));
      // Assess
      const elapsed = performance.now() - started;
      expect(error.code).toBe('engine_unreachable');
      expect(error.message).toBe('engine init: no answer within 300 ms');
      expectOwnWords(error);
      expect(elapsed).toBeGreaterThanOrEqual(250);
      expect(elapsed).toBeLessThan(5_000);
      expect(engine.calls).toHaveLength(1);
    });

    it('bounds the whole call, reading the body included', async () => {
      // Prepare: hang-body sends the headers and half the body, then nothing.
      const engineClient = client();
      const started = performance.now();
      // Act
      const error = await failure(engineClient.init(`${engine.url}/hang-body`, RACES, { timeoutMs: 300 }));
      // Assess
      expect(error.code).toBe('engine_unreachable');
      expect(error.message).toBe('engine init: no answer within 300 ms');
      expect(performance.now() - started).toBeLessThan(5_000);
    });

    it('waits for a slow engine that answers within the timeout', async () => {
      // Prepare: the engine holds the call (a latch) until the test releases it.
      const engineClient = client();
      const latch = engine.holdNext();
      let settled = false;
      // Act
      const call = engineClient.init(engine.url, RACES, { timeoutMs: 30_000 });
      void call.finally(() => {
        settled = true;
      });
      await latch.arrived;
      // Still waiting while the engine holds the call; answered once it answers.
      expect(settled).toBe(false);
      latch.release();
      const players = await call;
      // Assess
      expect(players).toHaveLength(RACES.length);
    });

    it('gives up on a slow engine that answers after the timeout', async () => {
      // Prepare: the engine holds the call until after the client gave up.
      const engineClient = client();
      const latch = engine.holdNext();
      // Act
      const error = await failure(engineClient.init(engine.url, RACES, { timeoutMs: 300 }));
      latch.release();
      // Assess
      expect(error.code).toBe('engine_unreachable');
      expect(error.message).toBe('engine init: no answer within 300 ms');
      expect(engine.calls).toHaveLength(1);
    });

    it('answers engine_unreachable without calling when no time is left', async () => {
      // Prepare
      const engineClient = client();
      // Act
      const error = await failure(engineClient.init(engine.url, RACES, { timeoutMs: 0 }));
      // Assess
      expect(error.code).toBe('engine_unreachable');
      expect(engine.calls).toHaveLength(0);
    });

    it('answers engine_unreachable when the connection is refused', async () => {
      // Prepare
      const engineClient = client();
      const port = await closedPort();
      // Act
      const error = await failure(engineClient.init(`http://127.0.0.1:${port}`, RACES, TIMEOUT));
      // Assess
      expect(error.code).toBe('engine_unreachable');
      expect(error.message).toBe('engine init: connection failed');
      expectOwnWords(error);
      expect(error.cause).toBeDefined();
    });

    it('answers engine_unreachable when the host name does not resolve', async () => {
      // Prepare
      const engineClient = client({
        resolve: async (hostname) => {
          throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
        },
      });
      // Act
      const error = await failure(engineClient.init(`http://galaxy-game-missing:${engine.port}`, RACES, TIMEOUT));
      // Assess
      expect(error.code).toBe('engine_unreachable');
      expect(error.message).toBe('engine init: engine host name did not resolve');
      expectOwnWords(error);
      expect(engine.calls).toHaveLength(0);
    });

    it('answers engine_unreachable when the host name resolves to no address', async () => {
      // Prepare
      const engineClient = client({ resolve: async () => [] });
      // Act
      const error = await failure(engineClient.init(`http://galaxy-game-empty:${engine.port}`, RACES, TIMEOUT));
      // Assess
      expect(error.code).toBe('engine_unreachable');
      expect(engine.calls).toHaveLength(0);
    });

    describe('Address guard', () => {
      it.each(['127.0.0.1', '[::1]', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '127.9.9.9'])(
        'refuses the loopback literal %s when loopback is not allowed, before connecting',
        async (host) => {
          // Prepare
          const engineClient = client({ allowLoopback: false });
          // Act
          const error = await failure(engineClient.init(`http://${host}:${engine.port}/ok`, RACES, TIMEOUT));
          // Assess
          expect(error.code).toBe('engine_address_refused');
          expect(error.message).toMatch(/^engine init: engine address .+ is not allowed$/);
          expect(engine.calls).toHaveLength(0);
        },
      );

      it('refuses a name that resolves to loopback when loopback is not allowed', async () => {
        // Prepare
        const engineClient = client({ allowLoopback: false, resolve: async () => [{ address: '127.0.0.1', family: 4 }] });
        // Act
        const error = await failure(engineClient.init(`http://galaxy-game-g1:${engine.port}`, RACES, TIMEOUT));
        // Assess
        expect(error.code).toBe('engine_address_refused');
        expect(error.message).toBe('engine init: engine address 127.0.0.1 is not allowed');
        expect(engine.calls).toHaveLength(0);
      });

      it('refuses the system resolver’s localhost when loopback is not allowed', async () => {
        // Prepare
        const engineClient = client({ allowLoopback: false });
        // Act
        const error = await failure(engineClient.init(`http://localhost:${engine.port}`, RACES, TIMEOUT));
        // Assess
        expect(error.code).toBe('engine_address_refused');
        expect(engine.calls).toHaveLength(0);
      });

      it.each([
        ['the IPv4 metadata address', '169.254.169.254', 4],
        ['the IPv6 metadata address', 'fd00:ec2::254', 6],
        ['an IPv4-mapped metadata address', '::ffff:169.254.169.254', 6],
        ['a link-local address', '169.254.10.1', 4],
        ['an IPv6 link-local address', 'fe80::1', 6],
        ['the unspecified address', '0.0.0.0', 4],
        ['a multicast address', '224.0.0.1', 4],
        ['the broadcast address', '255.255.255.255', 4],
      ] as const)('refuses a name that resolves to %s, even with loopback allowed', async (_, address, family) => {
        // Prepare
        const engineClient = client({ allowLoopback: true, resolve: async () => [{ address, family }] });
        // Act
        const error = await failure(engineClient.init(`http://galaxy-game-g1:${engine.port}`, RACES, TIMEOUT));
        // Assess
        expect(error.code).toBe('engine_address_refused');
        expect(error.message).toBe(`engine init: engine address ${address} is not allowed`);
        expect(engine.calls).toHaveLength(0);
      });

      it.each([
        ['after', [{ address: '127.0.0.1', family: 4 }, { address: '169.254.169.254', family: 4 }]],
        ['before', [{ address: '169.254.169.254', family: 4 }, { address: '127.0.0.1', family: 4 }]],
      ] as const)('refuses a name when any of its addresses is refused (refused address %s an allowed one)', async (_, addresses) => {
        // Prepare
        const engineClient = client({ allowLoopback: true, resolve: async () => addresses.map((a) => ({ ...a })) });
        // Act
        const error = await failure(engineClient.init(`http://galaxy-game-g1:${engine.port}`, RACES, TIMEOUT));
        // Assess
        expect(error.code).toBe('engine_address_refused');
        expect(error.message).toBe('engine init: engine address 169.254.169.254 is not allowed');
        expect(engine.calls).toHaveLength(0);
      });

      it('connects to the first address when every address is allowed', async () => {
        // Prepare: the second address is loopback too, on a port nobody listens on, so only the first can answer.
        const engineClient = client({
          resolve: async () => [
            { address: '127.0.0.1', family: 4 },
            { address: '127.0.0.2', family: 4 },
          ],
        });
        // Act
        const players = await engineClient.init(`http://galaxy-game-g1:${engine.port}`, RACES, TIMEOUT);
        // Assess
        expect(players).toHaveLength(RACES.length);
        expect(engine.calls).toHaveLength(1);
      });

      it.each(['ftp://127.0.0.1/', 'not a url', 'http://user:pw@127.0.0.1/', 'http://127.0.0.1/?q=1', 'http://127.0.0.1/#f'])(
        'refuses the endpoint %j without calling',
        async (endpoint) => {
          // Prepare
          const engineClient = client();
          // Act
          const error = await failure(engineClient.init(endpoint, RACES, TIMEOUT));
          // Assess
          expect(error.code).toBe('engine_address_refused');
          expect(error.message).toBe('engine init: engine endpoint is not an http(s) URL');
          expect(engine.calls).toHaveLength(0);
        },
      );
    });
  });
});

describe('Function: buildInitUrl', () => {
  it.each([
    ['http://galaxy-game-g1:8080', 'http://galaxy-game-g1:8080/admin/init'],
    ['http://galaxy-game-g1:8080/', 'http://galaxy-game-g1:8080/admin/init'],
    ['https://engine.example/base', 'https://engine.example/base/admin/init'],
    ['https://engine.example/base/', 'https://engine.example/base/admin/init'],
    ['http://10.0.0.7/a/b///', 'http://10.0.0.7/a/b/admin/init'],
    ['HTTP://Engine.Example:80/x', 'http://engine.example/x/admin/init'],
  ])('turns %s into %s', (endpoint, expected) => {
    // Act
    const url = buildInitUrl(endpoint);
    // Assess
    expect(url?.href).toBe(expected);
  });
});
