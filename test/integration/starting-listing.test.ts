/**
 * GET /internal/v1/runtimes?status=starting (registrations by state)
 * through readRuntime's cold-started handler on DynamoDB Local, every store
 * request passing the recording proxy (test/support/dynamo-proxy.ts): the
 * order, the pages, the filter, the cursors and that it goes through the
 * reconciler's sparse index, never a scan. Answers are checked against
 * docs/openapi.yaml by the integration setup.
 */
import { DeleteCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { encodeCursor } from '../../lib/domain/cursor.ts';
import { OPERATIONS_ROUTE as OPERATIONS_CURSOR_ROUTE, STARTING_ROUTE } from '../../lib/read-runtime/read-runtime.ts';
import { type DynamoProxy, requestIs, startDynamoProxy } from '../support/dynamo-proxy.ts';
import { apiEvent, lambdaContext, registerBody } from '../support/harness.ts';
import { routeEvent } from '../support/http-events.ts';
import { coldStart, type Handler, parse, type Stack, startStack } from '../support/stack.ts';

type Json = any;

const LIST_ROUTE = '/internal/v1/runtimes';
let stack: Stack;
let proxy: DynamoProxy;
let read: Handler;
let register: Handler;

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

const list = async (query?: Record<string, string>) => parse(await read(routeEvent('GET', LIST_ROUTE, query ? { query } : {}), lambdaContext()));

/** Every page, following next_cursor until null. */
async function walk(query: Record<string, string>): Promise<Json[]> {
  const all: Json[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const res = await list({ ...query, ...(cursor ? { cursor } : {}) });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    all.push(...res.body.runtimes);
    cursor = res.body.next_cursor;
    if (cursor === null) return all;
  }
  throw new Error('the walk never ended');
}

function record(gameId: string, createdAt: string) {
  return {
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
    created_at: createdAt,
    updated_at: createdAt,
  };
}

/** A `starting` record as the register route's insert leaves it (op_id and the index marker). */
async function seedStarting(gameId: string, ageS: number, extra: Record<string, unknown> = {}) {
  const createdAt = new Date(Date.now() - ageS * 1000).toISOString();
  const item = record(gameId, createdAt);
  await stack.tables.doc.send(
    new PutCommand({ TableName: stack.tables.names.runtimeRecords, Item: { ...item, op_id: `op-${gameId}`, starting_marker: 'starting', ...extra } }),
  );
  return item;
}

function expectInvalid(res: { status: number; body: any }, name: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(400);
  expect(res.body.error.code).toBe('invalid_request');
  expect(res.body.error.message.startsWith(`${name} `), res.body.error.message).toBe(true);
}

async function storeRequestsDuring(run: () => Promise<unknown>) {
  const before = proxy.requests.length;
  await run();
  return proxy.requests.slice(before);
}

// One table for the whole file: the records seeded here are the only
// `starting` ones apart from what each test adds, so each test names its own.
describe('GET /internal/v1/runtimes?status=starting', () => {
  it('lists starting records oldest first (ties by game_id), each exactly once across pages, for limits 1 to 4; running records never', async () => {
    const tie = new Date(Date.now() - 500_000).toISOString();
    await seedStarting('s1-c', 900);
    await seedStarting('s1-a', 600);
    // Two records created in the same millisecond: game_id breaks the tie.
    for (const id of ['s1-t2', 's1-t1']) {
      await stack.tables.doc.send(
        new PutCommand({ TableName: stack.tables.names.runtimeRecords, Item: { ...record(id, tie), op_id: `op-${id}`, starting_marker: 'starting' } }),
      );
    }
    await seedStarting('s1-b', 30, { reclaim_started_at: '2026-12-05T08:00:00.000Z' });
    // A registration that completed: running, not in the index.
    const running = (await parse(await register(apiEvent(registerBody('s1-run', stack.engine.url)), lambdaContext()))).body;
    expect(running.status).toBe('running');

    const expected = ['s1-c', 's1-a', 's1-t1', 's1-t2', 's1-b'];
    for (const limit of ['1', '2', '3', '4']) {
      const all = await walk({ status: 'starting', limit });
      expect(all.map((r) => r.game_id).filter((id: string) => id.startsWith('s1-'))).toEqual(expected);
    }
    const all = (await walk({ status: 'starting' })).filter((r) => r.game_id.startsWith('s1-'));
    const oldest = all[0];
    expect(Object.keys(oldest)).toEqual([...Object.keys(record('x', tie)), 'age_s', 'reclaim_started_at']);
    expect(oldest.age_s).toBeGreaterThanOrEqual(900);
    expect(oldest.age_s).toBeLessThan(960);
    expect(oldest.reclaim_started_at).toBeNull();
    expect(all[4].reclaim_started_at).toBe('2026-12-05T08:00:00.000Z');
    expect(all.some((r) => 'op_id' in r || 'starting_marker' in r)).toBe(false);
  });

  it('older_than_s keeps only records at least that old; a cursor is bound to it', async () => {
    await seedStarting('s2-old', 7200);
    await seedStarting('s2-old2', 7100);
    await seedStarting('s2-new', 10);
    const old = (await walk({ status: 'starting', older_than_s: '3600' })).map((r) => r.game_id);
    expect(old).toEqual(['s2-old', 's2-old2']);
    expect(old).not.toContain('s2-new');
    const every = (await walk({ status: 'starting', older_than_s: '0' })).map((r) => r.game_id);
    expect(every).toEqual(expect.arrayContaining(['s2-old', 's2-new']));

    const page = await list({ status: 'starting', older_than_s: '3600', limit: '1' });
    expect(page.body.next_cursor).not.toBeNull();
    expectInvalid(await list({ status: 'starting', older_than_s: '60', cursor: page.body.next_cursor }), 'cursor');
    expect((await list({ status: 'starting', older_than_s: '3600', cursor: page.body.next_cursor })).status).toBe(200);
  });

  it('a record that leaves starting during the walk is never duplicated; the others are all listed', async () => {
    const ids = ['s3-a', 's3-b', 's3-c', 's3-d'];
    for (const [i, id] of ids.entries()) await seedStarting(id, 400_000 - i);
    const first = await list({ status: 'starting', older_than_s: '399980', limit: '2' });
    expect(first.body.runtimes.map((r: Json) => r.game_id)).toEqual(['s3-a', 's3-b']);
    // s3-c completes (the compare-and-set removes the index marker), s3-d is deleted.
    await stack.tables.doc.send(
      new UpdateCommand({
        TableName: stack.tables.names.runtimeRecords,
        Key: { game_id: 's3-c' },
        UpdateExpression: 'SET #s = :running REMOVE starting_marker',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':running': 'running' },
      }),
    );
    await stack.tables.doc.send(new DeleteCommand({ TableName: stack.tables.names.runtimeRecords, Key: { game_id: 's3-d' } }));
    await seedStarting('s3-e', 399_990);
    const rest: Json[] = [];
    let cursor = first.body.next_cursor as string | null;
    while (cursor !== null) {
      const page = await list({ status: 'starting', older_than_s: '399980', limit: '2', cursor });
      expect(page.status).toBe(200);
      rest.push(...page.body.runtimes);
      cursor = page.body.next_cursor;
    }
    expect(rest.map((r) => r.game_id)).toEqual(['s3-e']);
  });

  it('goes through the sparse index and consistent reads of the records: no scan, no write', async () => {
    await seedStarting('s4-a', 50);
    const requests = await storeRequestsDuring(() => list({ status: 'starting' }));
    const ops = requests.map((r) => r.op);
    expect(ops).toContain('Query');
    expect(ops.every((op) => op === 'Query' || op === 'BatchGetItem'), ops.join()).toBe(true);
    for (const r of requests.filter((r) => r.op === 'Query')) expect(JSON.parse(r.body).IndexName).toBe('starting_by_created_at');
    for (const r of requests.filter((r) => r.op === 'BatchGetItem')) {
      for (const spec of Object.values(JSON.parse(r.body).RequestItems) as Json[]) expect(spec.ConsistentRead).toBe(true);
    }
  });

  it('refuses a missing or other status, a bad older_than_s or limit, naming each', async () => {
    expectInvalid(await list(), 'status');
    expectInvalid(await list({ status: 'running' }), 'status');
    expectInvalid(await list({ status: 'STARTING' }), 'status');
    for (const bad of ['-1', '1.5', '01', '31536001', 'x', '', ' 1', '1e3']) expectInvalid(await list({ status: 'starting', older_than_s: bad }), 'older_than_s');
    expect((await list({ status: 'starting', older_than_s: '31536000' })).status).toBe(200);
    for (const bad of ['0', '101', 'ten', '']) expectInvalid(await list({ status: 'starting', limit: bad }), 'limit');
  });

  it('refuses altered, other-route and garbage cursors with 400 naming cursor, before any store request', async () => {
    await seedStarting('s6-a', 100);
    await seedStarting('s6-b', 90);
    const first = await list({ status: 'starting', limit: '1' });
    const cursor = first.body.next_cursor as string;
    const [payload, digest] = cursor.split('.') as [string, string];
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    const bad: Record<string, string> = {
      'altered payload': `${flip(payload, 5)}.${digest}`,
      'altered digest': `${payload}.${flip(digest, 3)}`,
      truncated: cursor.slice(0, -1),
      'operations route': encodeCursor({ route: OPERATIONS_CURSOR_ROUTE, gameId: 's6-a' }, '2026-12-05T08:00:00.000Z#x'),
      'no filter': encodeCursor({ route: STARTING_ROUTE }, `${new Date().toISOString()}|s6-a`),
      'a key of another shape': encodeCursor({ route: STARTING_ROUTE, filter: 'status=starting&older_than_s=0' }, 's6-a'),
      garbage: '%%%not-a-cursor%%%',
      empty: '',
    };
    for (const [label, value] of Object.entries(bad)) {
      let res: Json;
      const requests = await storeRequestsDuring(async () => {
        res = await list({ status: 'starting', cursor: value });
      });
      expectInvalid(res, 'cursor');
      expect(requests.length, label).toBe(0);
    }
  });

  it('answers 503 naming the step when the index query fails', async () => {
    proxy.fault({ match: requestIs({ op: 'Query' }), mode: 'throttle' });
    const res = await list({ status: 'starting' });
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ error: { code: 'service_unavailable', message: 'query starting records: store request failed' } });
  });

  it('a run of records created in the same millisecond, longer than a page, is walked in game_id order, each once', async () => {
    const tie = new Date(Date.now() - 30_000_000_000).toISOString();
    const ids = ['s7-e', 's7-b', 's7-d', 's7-a', 's7-c'];
    for (const id of ids) {
      await stack.tables.doc.send(
        new PutCommand({ TableName: stack.tables.names.runtimeRecords, Item: { ...record(id, tie), op_id: `op-${id}`, starting_marker: 'starting' } }),
      );
    }
    // Last in the file: the oldest records of the table, which no filter above expects.
    for (const limit of ['1', '2', '3']) {
      const all = await walk({ status: 'starting', older_than_s: '29999000', limit });
      expect(all.map((r) => r.game_id)).toEqual([...ids].sort());
    }
  });
});
