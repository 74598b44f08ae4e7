/**
 * readRuntime through its cold-started handler on DynamoDB Local, every
 * request passing a loopback proxy (test/support/dynamo-proxy.ts) that
 * counts the store requests and puts the store at fault on demand. Rows
 * are registered through the real register handler or seeded directly.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { encodeCursor } from '../../lib/domain/cursor.ts';
import { type OperationEntry, newOpId } from '../../lib/domain/operation.ts';
import { ERROR_STATUS } from '../../lib/http/errors.ts';
import { OPERATIONS_ROUTE as OPERATIONS_CURSOR_ROUTE } from '../../lib/read-runtime/read-runtime.ts';
import { VERSIONS_ROUTE as VERSIONS_CURSOR_ROUTE } from '../../lib/engine-versions/engine-versions.ts';
import { type DynamoProxy, requestIs, startDynamoProxy } from '../support/dynamo-proxy.ts';
import { apiEvent, lambdaContext, registerBody } from '../support/harness.ts';
import { OPERATIONS_ROUTE, RUNTIME_ROUTE, routeEvent } from '../support/http-events.ts';
import { coldStart, type Handler, parse, type Stack, startStack } from '../support/stack.ts';

let stack: Stack;
let proxy: DynamoProxy;
let read: Handler;
let register: Handler;
let counter = 0;
const newGame = () => `g-rr-${++counter}`;

beforeAll(async () => {
  proxy = await startDynamoProxy(inject('dynamoEndpoint'));
  stack = await startStack({ AWS_ENDPOINT_URL_DYNAMODB: proxy.url });
  register = await coldStart('../../functions/register-runtime/handler.ts');
  read = await coldStart('../../functions/read-runtime/handler.ts');
});

afterEach(() => proxy.clearFaults());

afterAll(async () => {
  await proxy?.close();
  await stack?.close();
});

async function registerGame(gameId: string, members = 3) {
  const res = parse(await register(apiEvent(registerBody(gameId, stack.engine.url, { members })), lambdaContext()));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as Record<string, unknown>;
}

const getRuntime = async (gameId: string) => parse(await read(routeEvent('GET', RUNTIME_ROUTE, { params: { game_id: gameId } }), lambdaContext()));
const getOperations = async (gameId: string, query?: Record<string, string>) =>
  parse(await read(routeEvent('GET', OPERATIONS_ROUTE, { params: { game_id: gameId }, ...(query ? { query } : {}) }), lambdaContext()));

/** Store requests made while `run` ran. */
async function storeRequestsDuring(run: () => Promise<unknown>): Promise<number> {
  const before = proxy.requests.length;
  await run();
  return proxy.requests.length - before;
}

/** `count` entries for a game, one second apart (op ids sort by start time). */
async function seedEntries(gameId: string, count: number): Promise<OperationEntry[]> {
  const entries: OperationEntry[] = [];
  for (let i = 0; i < count; i++) {
    const at = new Date(Date.UTC(2026, 11, 3, 8, 0, i));
    const entry: OperationEntry = {
      game_id: gameId,
      op_id: newOpId(at),
      op_kind: 'register_runtime',
      op_source: 'lobby_internal',
      source_ref: `seed-${i}`,
      outcome: 'failure',
      error_code: 'engine_unreachable',
      error_message: `attempt ${i}`,
      started_at: at.toISOString(),
      finished_at: at.toISOString(),
    };
    await stack.tables.doc.send(new PutCommand({ TableName: stack.tables.names.operationLog, Item: entry }));
    entries.push(entry);
  }
  return entries;
}

function expectInvalid(res: { status: number; body: any }, name: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(400);
  expect(res.body.error.code).toBe('invalid_request');
  expect(res.body.error.message.startsWith(`${name} `), res.body.error.message).toBe(true);
}

describe('GET /internal/v1/runtimes/{game_id}', () => {
  it('answers a running record exactly as the register route did, with every player sorted by user_id', async () => {
    const gameId = newGame();
    const registered = await registerGame(gameId);
    const res = await getRuntime(gameId);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    const { players, ...record } = res.body;
    expect(record).toEqual(registered);
    expect(Object.keys(record)).toEqual(Object.keys(registered));
    const mappings = (await stack.tables.rowsOf(gameId)).mappings;
    expect(players).toEqual(
      mappings
        .map((m) => ({ user_id: m.user_id, race_name: m.race_name, engine_player_uuid: m.engine_player_uuid }))
        .sort((a, b) => String(a.user_id).localeCompare(String(b.user_id))),
    );
    expect(players.map((p: any) => p.user_id)).toEqual(['u-001', 'u-002', 'u-003']);
  });

  it('answers a 500-member roster whole, sorted, in one answer', async () => {
    const gameId = newGame();
    await registerGame(gameId, 500);
    const res = await getRuntime(gameId);
    expect(res.status).toBe(200);
    expect(res.body.players).toHaveLength(500);
    const ids = res.body.players.map((p: any) => p.user_id);
    expect(ids).toEqual([...ids].sort());
    expect(new Set(ids).size).toBe(500);
  });

  it('answers a starting record with players [] and none of the internal attributes', async () => {
    const gameId = newGame();
    const at = '2026-12-03T08:00:00.000Z';
    const record = {
      game_id: gameId,
      status: 'starting',
      engine_endpoint: 'http://127.0.0.1:1',
      current_image_ref: 'registry.local/galaxy/engine:1.4.2',
      current_engine_version: '1.4.2',
      turn_schedule: '0 */6 * * *',
      current_turn: 0,
      next_generation_at: null,
      skip_next_tick: false,
      engine_health: '',
      created_at: at,
      updated_at: at,
    };
    await stack.tables.doc.send(
      new PutCommand({
        TableName: stack.tables.names.runtimeRecords,
        Item: { ...record, op_id: 'op-x', starting_marker: 'starting', reclaim_started_at: at },
      }),
    );
    // A mapping row of the unfinished registration: not the game's yet.
    await stack.tables.doc.send(
      new PutCommand({
        TableName: stack.tables.names.playerMappings,
        Item: { game_id: gameId, user_id: 'u-1', race_name: 'R', engine_player_uuid: 'x', created_at: at, op_id: 'op-x' },
      }),
    );
    const res = await getRuntime(gameId);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...record, players: [] });
  });

  it('answers 404 runtime_not_found when there is no record', async () => {
    const res = await getRuntime('g-1');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'runtime_not_found', message: 'runtime record for "g-1" not found' } });
  });

  it.each(['-g', 'g/1', 'g 1', 'é', 'a'.repeat(129), '_unidentified', 'g%201'])('answers 400 naming game_id for %j, without a store request', async (gameId) => {
    let res: any;
    const requests = await storeRequestsDuring(async () => {
      res = await getRuntime(gameId);
    });
    expectInvalid(res, 'game_id');
    expect(requests).toBe(0);
  });

  it('answers 400 naming game_id when the event has no pathParameters', async () => {
    const event = routeEvent('GET', RUNTIME_ROUTE, { params: { game_id: 'g-1' } });
    delete event.pathParameters;
    // The router then reads the parameter off the raw path.
    event.requestContext.http.path = '/internal/v1/runtimes/g%3A1';
    expectInvalid(parse(await read(event, lambdaContext())), 'game_id');
  });

  it.each([
    ['the record read', () => requestIs({ op: 'GetItem', table: stack.tables.names.runtimeRecords }), 'get runtime record'],
    ['the players query', () => requestIs({ op: 'Query', table: stack.tables.names.playerMappings }), 'query player mappings'],
  ])('answers 503 naming the step when %s fails, and changes no row', async (_, match, step) => {
    const gameId = newGame();
    await registerGame(gameId);
    const before = await stack.tables.rowsOf(gameId);
    proxy.fault({ match: match(), mode: 'internal-error' });
    const res = await getRuntime(gameId);
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ error: { code: 'service_unavailable', message: `${step}: store request failed` } });
    proxy.clearFaults();
    expect(await stack.tables.rowsOf(gameId)).toEqual(before);
  });
});

describe('GET /internal/v1/runtimes/{game_id}/operations', () => {
  it('answers newest first, every entry exactly once across pages, for every limit from 1 to 3', async () => {
    const gameId = newGame();
    const entries = await seedEntries(gameId, 7);
    const newestFirst = [...entries].reverse();
    for (const limit of [1, 2, 3]) {
      const seen: OperationEntry[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const res = await getOperations(gameId, { limit: String(limit), ...(cursor ? { cursor } : {}) });
        expect(res.status).toBe(200);
        expect(res.body.operations.length).toBeLessThanOrEqual(limit);
        seen.push(...res.body.operations);
        cursor = res.body.next_cursor ?? undefined;
        pages++;
      } while (cursor !== undefined);
      expect(seen).toEqual(newestFirst);
      expect(pages).toBe(Math.ceil(7 / limit));
    }
  });

  it('answers every entry in one page with the default limit of 20, and a null next_cursor when the page is exactly full', async () => {
    const gameId = newGame();
    const entries = await seedEntries(gameId, 7);
    expect((await getOperations(gameId)).body).toEqual({ operations: [...entries].reverse(), next_cursor: null });
    expect((await getOperations(gameId, { limit: '7' })).body.next_cursor).toBeNull();
    const big = newGame();
    await seedEntries(big, 21);
    const first = await getOperations(big);
    expect(first.body.operations).toHaveLength(20);
    expect(first.body.next_cursor).toEqual(expect.any(String));
  });

  it('answers the entries of a real registration, and of one that failed without a record', async () => {
    const gameId = newGame();
    await registerGame(gameId);
    const res = await getOperations(gameId);
    expect(res.status).toBe(200);
    expect(res.body.operations).toEqual([expect.objectContaining({ game_id: gameId, op_kind: 'register_runtime', outcome: 'success', error_code: '' })]);
    expect(Object.keys(res.body.operations[0]).sort()).toEqual(
      ['game_id', 'op_id', 'op_kind', 'op_source', 'source_ref', 'outcome', 'error_code', 'error_message', 'started_at', 'finished_at'].sort(),
    );
    const failed = newGame();
    const refused = parse(await register(apiEvent(registerBody(failed, stack.engine.url, { version: '9.9.9' })), lambdaContext()));
    expect(refused.status).toBe(404);
    expect((await getOperations(failed)).body.operations).toEqual([
      expect.objectContaining({ game_id: failed, outcome: 'failure', error_code: 'engine_version_not_found' }),
    ]);
  });

  it('answers 200 [] for a game with no entries, and reads the _unidentified partition', async () => {
    expect((await getOperations(newGame())).body).toEqual({ operations: [], next_cursor: null });
    const res = await getOperations('_unidentified');
    expect(res.status).toBe(200);
    expect(Array.isArray(res.body.operations)).toBe(true);
  });

  it.each(['0', '101', '-1', '1.5', 'abc', '', ' 5', '05', '1e1', '+5', '20,30', '9'.repeat(400)])('answers 400 naming limit for limit=%j', async (limit) => {
    expectInvalid(await getOperations(newGame(), { limit }), 'limit');
  });

  it('refuses altered, truncated, foreign-game, other-route and garbage cursors with 400 naming cursor, before any store request', async () => {
    const gameId = newGame();
    await seedEntries(gameId, 3);
    const first = await getOperations(gameId, { limit: '1' });
    const cursor = first.body.next_cursor as string;
    const [payload, digest] = cursor.split('.') as [string, string];
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    const other = newGame();
    await seedEntries(other, 3);
    const foreign = (await getOperations(other, { limit: '1' })).body.next_cursor as string;
    const reissued = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    const bad: Record<string, string> = {
      'altered payload': `${flip(payload, 5)}.${digest}`,
      'altered digest': `${payload}.${flip(digest, 3)}`,
      'payload re-pointed at another game, old digest': `${Buffer.from(JSON.stringify({ ...reissued, g: other })).toString('base64url')}.${digest}`,
      truncated: cursor.slice(0, -1),
      'payload only': payload,
      'foreign game': foreign,
      'other route': encodeCursor({ route: VERSIONS_CURSOR_ROUTE }, '1.4.2'),
      'a key of another shape': encodeCursor({ route: OPERATIONS_CURSOR_ROUTE, gameId }, ''),
      garbage: '%%%not-a-cursor%%%',
      empty: '',
      huge: 'A'.repeat(100_000),
    };
    for (const [label, value] of Object.entries(bad)) {
      let res: any;
      const requests = await storeRequestsDuring(async () => {
        res = await getOperations(gameId, { cursor: value });
      });
      expectInvalid(res, 'cursor');
      expect(requests, label).toBe(0);
    }
    // The foreign cursor still works for its own game.
    expect((await getOperations(other, { cursor: foreign })).status).toBe(200);
  });

  it('answers 503 naming the step when the query fails', async () => {
    const gameId = newGame();
    const entries = await seedEntries(gameId, 2);
    proxy.fault({ match: requestIs({ op: 'Query', table: stack.tables.names.operationLog }), mode: 'throttle' });
    const res = await getOperations(gameId);
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ error: { code: 'service_unavailable', message: 'query operation log: store request failed' } });
    proxy.clearFaults();
    expect((await stack.tables.rowsOf(gameId)).log).toEqual(entries);
  });
});

describe('every read', () => {
  it('is strongly consistent and never writes', async () => {
    const gameId = newGame();
    await registerGame(gameId);
    const before = proxy.requests.length;
    await getRuntime(gameId);
    await getOperations(gameId, { limit: '1' });
    const reads = proxy.requests.slice(before);
    expect(reads.map((r) => r.op).sort()).toEqual(['GetItem', 'Query', 'Query']);
    for (const r of reads) expect(JSON.parse(r.body).ConsistentRead, r.op).toBe(true);
  });
});

describe('routes the function does not serve', () => {
  it.each([
    ['POST', '/internal/v1/runtimes/g-1'],
    ['POST', '/internal/v1/runtimes'],
    ['GET', '/internal/v1/engine-versions'],
    ['GET', '/internal/v1/runtimes/g-1/operations/x'],
    ['DELETE', '/internal/v1/runtimes/g-1'],
  ])('answers 404 route_not_found to %s %s', async (method, path) => {
    const event = routeEvent(method, path);
    const res = parse(await read(event, lambdaContext()));
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'route_not_found', message: 'no route serves this method and path' } });
  });

  it('answers 404 route_not_found to an event without a method or path', async () => {
    const res = parse(await read({} as never, lambdaContext()));
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('route_not_found');
  });
});

describe('hostile path and query input', () => {
  it('never answers 500: always JSON, a known code, and only 200/400/404', async () => {
    const text = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.constantFrom('%00', '%2F', '..', '_unidentified', 'g-1', 'x'.repeat(5000), '\u0000', '\ud800', 'null', '__proto__'),
    );
    const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(RUNTIME_ROUTE, OPERATIONS_ROUTE),
        maybe(text),
        fc.option(fc.record({ limit: maybe(text), cursor: maybe(text) }, { requiredKeys: [] }), { nil: null }),
        fc.boolean(),
        async (template, gameId, query, dropParams) => {
          const event = routeEvent('GET', template, { params: gameId === undefined ? {} : { game_id: gameId } });
          if (dropParams) delete event.pathParameters;
          (event as any).queryStringParameters = query === null ? null : Object.fromEntries(Object.entries(query).filter(([, v]) => v !== undefined));
          const res = await read(event, lambdaContext());
          const body = JSON.parse(String(res.body));
          expect([200, 400, 404]).toContain(res.statusCode);
          if (res.statusCode !== 200) {
            expect(Object.keys(ERROR_STATUS)).toContain(body.error.code);
            expect(ERROR_STATUS[body.error.code as keyof typeof ERROR_STATUS]).toBe(res.statusCode);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
