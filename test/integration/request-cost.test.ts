/**
 * The spec's request cost (Telemetry -> Cost), counted at a proxy in front
 * of DynamoDB Local: every request the handler makes, per registration, in
 * a fresh execution environment (the handler module imported afresh) and
 * in a warm one. Request counts are deterministic, so they are asserted;
 * times are not (see npm run bench).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { type DynamoProxy, startDynamoProxy } from '../support/dynamo-proxy.ts';
import { apiEvent, lambdaContext, registerBody } from '../support/harness.ts';
import { coldStart, type Handler, parse, type Stack, startStack } from '../support/stack.ts';

let proxy: DynamoProxy;
let stack: Stack;
let counter = 0;
const newGame = () => `g-cost-${++counter}`;

beforeAll(async () => {
  proxy = await startDynamoProxy(inject('dynamoEndpoint'));
  stack = await startStack({ AWS_ENDPOINT_URL_DYNAMODB: proxy.url });
});

afterAll(async () => {
  await proxy?.close();
  await stack?.close();
});

const freshEnvironment = () => coldStart('../../functions/register-runtime/handler.ts');

/** Registers and returns the answer with the DynamoDB operations it made, in order. */
async function registerCounting(
  handler: Handler,
  gameId: string,
  options: { version?: string; key?: string } = {},
): Promise<{ status: number; body: any; ops: string[] }> {
  const from = proxy.requests.length;
  const headers: Record<string, string> = options.key ? { 'Idempotency-Key': options.key } : {};
  const body = registerBody(gameId, stack.engine.url, options.version ? { version: options.version } : {});
  const res = parse(await handler(apiEvent(body, { headers }), lambdaContext()));
  return { ...res, ops: proxy.requests.slice(from).map((r) => r.op) };
}

describe('Request cost of a 2-member registration (DynamoDB Local behind a counting proxy)', () => {
  it('fresh: 3 requests (record and version in one read, insert, commit); warm: 2 (the version is known)', async () => {
    const handler = await freshEnvironment();

    const cold = await registerCounting(handler, newGame());
    const warm = await registerCounting(handler, newGame());

    expect(cold.status).toBe(201);
    expect(cold.ops).toEqual(['BatchGetItem', 'PutItem', 'TransactWriteItems']);
    expect(warm.status).toBe(201);
    expect(warm.ops).toEqual(['PutItem', 'TransactWriteItems']);
    const rows = await stack.tables.rowsOf(`g-cost-${counter}`);
    expect(rows.records).toEqual([expect.objectContaining({ status: 'running', current_image_ref: 'registry.local/galaxy/engine:1.4.2' })]);
  });

  it('with an Idempotency-Key: at most 5 fresh, 4 warm, and 1 for a replay', async () => {
    const handler = await freshEnvironment();
    const coldGame = newGame();

    const cold = await registerCounting(handler, coldGame, { key: `k-${coldGame}` });
    const warmGame = newGame();
    const warm = await registerCounting(handler, warmGame, { key: `k-${warmGame}` });
    const replay = await registerCounting(handler, coldGame, { key: `k-${coldGame}` });

    expect([cold.status, warm.status, replay.status]).toEqual([201, 201, 201]);
    expect(cold.ops.length).toBeLessThanOrEqual(5);
    expect(warm.ops.length).toBeLessThanOrEqual(4);
    expect(replay.ops).toEqual(['PutItem']);
    expect(cold.ops.filter((op) => op === 'BatchGetItem')).toHaveLength(1);
    expect(warm.ops).not.toContain('BatchGetItem');
  });

  it('an unknown version is never remembered: read again on the next call, and found once it is added', async () => {
    const handler = await freshEnvironment();
    const version = `9.0.${counter}`;

    const first = await registerCounting(handler, newGame(), { version });
    const second = await registerCounting(handler, newGame(), { version });
    await stack.tables.seedEngineVersion(version, `registry.local/galaxy/engine:${version}`);
    const added = await registerCounting(handler, newGame(), { version });

    expect([first.status, second.status]).toEqual([404, 404]);
    expect(first.body.error.code).toBe('engine_version_not_found');
    expect(first.ops[0]).toBe('BatchGetItem');
    expect(second.ops[0]).toBe('BatchGetItem');
    expect(added.status).toBe(201);
    expect(added.ops).toEqual(['BatchGetItem', 'PutItem', 'TransactWriteItems']);
    expect(added.body.current_image_ref).toBe(`registry.local/galaxy/engine:${version}`);
  });

  describe('conflict still wins over an unknown version', () => {
    async function existingGame(handler: Handler): Promise<string> {
      const gameId = newGame();
      expect((await registerCounting(handler, gameId)).status).toBe(201);
      return gameId;
    }

    it('in a fresh environment: 409, from the one read', async () => {
      const gameId = await existingGame(await freshEnvironment());
      const handler = await freshEnvironment();

      const res = await registerCounting(handler, gameId, { version: '0.0.404' });

      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('conflict');
      expect(res.ops[0]).toBe('BatchGetItem');
      expect(res.ops).not.toContain('TransactWriteItems');
      const rows = await stack.tables.rowsOf(gameId);
      expect(rows.records).toEqual([expect.objectContaining({ status: 'running', current_engine_version: '1.4.2' })]);
      expect(rows.log.map((e) => e.error_code)).toEqual(['', 'conflict']);
    });

    it('in a warm one (another version known): the unknown version is read with the record, and 409 wins', async () => {
      const handler = await freshEnvironment();
      const gameId = await existingGame(handler);

      const res = await registerCounting(handler, gameId, { version: '0.0.404' });

      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('conflict');
      expect(res.ops[0]).toBe('BatchGetItem');
      const rows = await stack.tables.rowsOf(gameId);
      expect(rows.records).toEqual([expect.objectContaining({ status: 'running', current_engine_version: '1.4.2' })]);
      expect(rows.log.map((e) => e.error_code)).toEqual(['', 'conflict']);
    });

    it('warm with the version known: the refused insert answers 409 (steps 1 and 3 are one request), the row untouched', async () => {
      const handler = await freshEnvironment();
      const gameId = await existingGame(handler);
      const before = await stack.tables.rowsOf(gameId);

      const res = await registerCounting(handler, gameId);

      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('conflict');
      expect(res.ops).toEqual(['PutItem', 'PutItem']); // the refused insert, the failure entry
      const rows = await stack.tables.rowsOf(gameId);
      expect(rows.records).toEqual(before.records);
      expect(rows.mappings).toEqual(before.mappings);
      expect(rows.log.map((e) => e.error_code)).toEqual(['', 'conflict']);
    });
  });
});
