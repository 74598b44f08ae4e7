/**
 * Safe retries with `Idempotency-Key`, end to end on DynamoDB Local through
 * the deployed handler (Powertools idempotency, IDEMPOTENCY_TABLE).
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.ts';
import { buildReconciler } from '../../lib/wiring.ts';
import { captureEmf } from '../support/emf.ts';
import { apiEvent, lambdaContext, RecordingLog, registerBody } from '../support/harness.ts';
import { coldStart, type Handler, parse, type Stack, startStack } from '../support/stack.ts';

let stack: Stack;
let handler: Handler;
let counter = 0;
const newGame = () => `g-idem-${++counter}`;
const newKey = () => `key-${counter}-${Math.random().toString(36).slice(2)}`;

beforeAll(async () => {
  stack = await startStack();
  handler = await coldStart('../../functions/register-runtime/handler.ts');
});

afterAll(async () => {
  await stack?.close();
});

async function call(body: unknown, key: string | undefined, remainingMs?: number) {
  const headers: Record<string, string> = key === undefined ? {} : { 'Idempotency-Key': key };
  return parse(await handler(apiEvent(body, { headers }), lambdaContext(remainingMs)));
}

async function opLog(gameId: string) {
  return stack.tables.query('operationLog', gameId);
}

describe('Safe retries: Idempotency-Key', () => {
  it('replays the first 201 with Idempotent-Replayed and touches nothing', async () => {
    // Prepare
    const gameId = newGame();
    const key = newKey();
    const body = registerBody(gameId, stack.engine.url);
    const first = await call(body, key);
    expect(first.status).toBe(201);
    const engineCalls = stack.engine.calls.length;
    const emf = captureEmf();

    // Act
    const second = await call(body, key);
    emf.restore();

    // Assess
    expect(second.status).toBe(201);
    expect(second.body).toEqual(first.body);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(stack.engine.calls.length).toBe(engineCalls);
    // The replay put no second outbox item: one event for the one registration.
    expect(await stack.tables.outboxOf(gameId)).toHaveLength(1);
    expect(await opLog(gameId)).toHaveLength(1);
    expect(emf.metrics()).toEqual([]);
  });

  it('a different body under the same key is 422 idempotency_key_reused, and nothing runs', async () => {
    const gameId = newGame();
    const key = newKey();
    expect((await call(registerBody(gameId, stack.engine.url), key)).status).toBe(201);
    const engineCalls = stack.engine.calls.length;

    const otherGame = newGame();
    const emf = captureEmf();
    const res = await call(registerBody(otherGame, stack.engine.url), key);
    emf.restore();

    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('idempotency_key_reused');
    expect(stack.engine.calls.length).toBe(engineCalls);
    expect(await stack.tables.rowsOf(otherGame)).toEqual({ records: [], mappings: [], log: [] });
    expect(emf.metrics()).toEqual([]);
    // The key still replays the first answer afterwards.
    const replay = await call(registerBody(gameId, stack.engine.url), key);
    expect(replay.status).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
  });

  it('a call while the first still runs is 409 request_in_progress with Retry-After; the key stays held', async () => {
    // Prepare: the engine answers slowly, so the first call holds its key.
    const gameId = newGame();
    const key = newKey();
    const body = registerBody(gameId, `${stack.engine.url}/slow-1500`);
    const engineCalls = stack.engine.calls.length;

    // Act
    const first = call(body, key);
    await new Promise((r) => setTimeout(r, 400));
    const second = await call(body, key);
    const firstRes = await first;

    // Assess
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe('request_in_progress');
    const retryAfter = Number(second.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(28);
    expect(firstRes.status).toBe(201);
    expect(stack.engine.calls.length).toBe(engineCalls + 1);
    // The rejected call did not free the key: a third call replays the first answer.
    const third = await call(body, key);
    expect(third.status).toBe(201);
    expect(third.headers['idempotent-replayed']).toBe('true');
    expect(await opLog(gameId)).toHaveLength(1);
  });

  it('a 5xx is not remembered: the retry runs again and succeeds', async () => {
    const gameId = newGame();
    const key = newKey();
    const body = registerBody(gameId, stack.engine.url);
    stack.engine.setNextHandler((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{}');
    });

    const first = await call(body, key);
    const retry = await call(body, key);

    expect(first.status).toBe(502);
    expect(retry.status).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    expect((await opLog(gameId)).map((e) => e.outcome).sort()).toEqual(['failure', 'success']);
  });

  it('a 404 is remembered and replayed, even once the version exists', async () => {
    const gameId = newGame();
    const key = newKey();
    const body = registerBody(gameId, stack.engine.url, { version: '2.0.0-idem' });
    const first = await call(body, key);
    expect(first.status).toBe(404);
    await stack.tables.seedEngineVersion('2.0.0-idem', 'registry.local/galaxy/engine:2.0.0');

    const replay = await call(body, key);

    expect(replay.status).toBe(404);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(await opLog(gameId)).toHaveLength(1);
    // Without the key the operation runs.
    expect((await call(body, undefined)).status).toBe(201);
  });

  it('a conflict is not remembered: once the record in the way is reclaimed, the retry succeeds', async () => {
    // Prepare: an abandoned `starting` record blocks the game.
    const gameId = newGame();
    const key = newKey();
    const old = new Date(Date.now() - 600_000).toISOString();
    await stack.tables.doc.send(
      new PutCommand({
        TableName: stack.tables.names.runtimeRecords,
        Item: {
          game_id: gameId, status: 'starting', engine_endpoint: stack.engine.url, current_image_ref: 'x', current_engine_version: '1.4.2',
          turn_schedule: '0 * * * *', current_turn: 0, next_generation_at: null, skip_next_tick: false, engine_health: '',
          created_at: old, updated_at: old, op_id: `${old}#dead`, starting_marker: 'starting',
        },
      }),
    );
    const body = registerBody(gameId, stack.engine.url);
    const first = await call(body, key);
    expect(first.status).toBe(409);
    expect(first.body.error.code).toBe('conflict');

    // Act
    const reclaimed = await buildReconciler(loadConfig(), { dynamo: stack.tables.client, log: new RecordingLog() }).run();
    const retry = await call(body, key);

    // Assess
    expect(reclaimed.reclaimed).toBe(1);
    expect(retry.status).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
  });

  it('a 400 is remembered, and its replay writes no second audit entry', async () => {
    const key = newKey();
    const gameId = newGame();
    const body = { game_id: gameId, members: [] };
    const first = await call(body, key);
    const replay = await call(body, key);
    expect(first.status).toBe(400);
    expect(replay.status).toBe(400);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect((await opLog(gameId)).map((e) => e.error_code)).toEqual(['invalid_request']);
  });

  it.each([
    ['over 255 characters', 'k'.repeat(256)],
    ['empty', ''],
    ['non-ASCII', 'clé'],
    ['a control character', 'a\tb'],
  ])('an Idempotency-Key %s is invalid_request before anything else is looked at', async (_what, key) => {
    const gameId = newGame();
    const res = await call(registerBody(gameId, stack.engine.url), key);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect(res.body.error.message).toMatch(/Idempotency-Key/);
    const rows = await stack.tables.rowsOf(gameId);
    expect(rows.records).toEqual([]);
    expect(rows.mappings).toEqual([]);
    expect(rows.log.map((e) => e.error_code)).toEqual(['invalid_request']);
    expect(stack.engine.calls.filter((c) => JSON.stringify(c.body).includes(gameId))).toEqual([]);
  });

  it('an Idempotency-Key of exactly 255 printable characters is accepted', async () => {
    const res = await call(registerBody(newGame(), stack.engine.url), `${'k'.repeat(254)}~`);
    expect(res.status).toBe(201);
  });
});
