/**
 * Safe retries with `Idempotency-Key`, end to end on DynamoDB Local through
 * the deployed handler (Powertools idempotency, IDEMPOTENCY_TABLE). The
 * handler reaches the store through the fault proxy (passing everything
 * through unless a case adds a fault).
 */
import { createHash } from 'node:crypto';
import { IdempotencyAlreadyInProgressError, IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { CALL_TOKEN_ATTR, type KeyedPayload, KeyStore } from '../../lib/adapters/idempotency-key-store.ts';
import { loadConfig } from '../../lib/config.ts';
import { IDEMPOTENCY_KEY_PREFIX, TYPICAL_REGISTRATION_S } from '../../lib/http/keyed-retries.ts';
import { buildReconciler, createDynamoClient } from '../../lib/wiring.ts';
import { type DynamoProxy, requestIs, startDynamoProxy } from '../support/dynamo-proxy.ts';
import { captureEmf } from '../support/emf.ts';
import { apiEvent, lambdaContext, RecordingLog, registerBody } from '../support/harness.ts';
import { coldStart, type Handler, parse, type Stack, startStack } from '../support/stack.ts';

/** What `promise` rejects with (undefined when it resolves). */
const rejectionOf = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => undefined,
    (err: unknown) => err,
  );

let stack: Stack;
let proxy: DynamoProxy;
let handler: Handler;
let counter = 0;
const newGame = () => `g-idem-${++counter}`;
const newKey = () => `key-${counter}-${Math.random().toString(36).slice(2)}`;

beforeAll(async () => {
  proxy = await startDynamoProxy(inject('dynamoEndpoint'));
  stack = await startStack({ AWS_ENDPOINT_URL_DYNAMODB: proxy.url });
  handler = await coldStart('../../functions/register-runtime/handler.ts');
});

afterEach(() => {
  proxy.clearFaults();
  vi.useRealTimers();
});

afterAll(async () => {
  await proxy?.close();
  await stack?.close();
});

async function call(body: unknown, key: string | undefined, remainingMs?: number, env: Handler = handler) {
  const headers: Record<string, string> = key === undefined ? {} : { 'Idempotency-Key': key };
  return parse(await env(apiEvent(body, { headers }), lambdaContext(remainingMs)));
}

/** The key table's items (few per file). */
async function keyItems() {
  const out = await stack.tables.doc.send(new ScanCommand({ TableName: stack.tables.names.idempotency, ConsistentRead: true }));
  return out.Items ?? [];
}

/** Engine init calls made since `since` (cases in a file run one at a time). */
const engineCallsSince = (since: number) => stack.engine.calls.slice(since);

/**
 * Freezes Date (only Date: timers, sockets and the SDK run in real time),
 * so every call computes the same key deadline (now + remaining time) to
 * the millisecond: the case where a deadline cannot tell two calls apart.
 */
function freezeClock() {
  vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
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
    // Prepare: the engine holds the first call (a latch), so it holds its key.
    freezeClock();
    const gameId = newGame();
    const key = newKey();
    const body = registerBody(gameId, stack.engine.url);
    const engineCalls = stack.engine.calls.length;
    const latch = stack.engine.holdNext();

    // Act
    const first = call(body, key);
    await latch.arrived;
    const second = await call(body, key);
    latch.release();
    const firstRes = await first;

    // Assess
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe('request_in_progress');
    // What a registration typically still needs, not the first call's deadline (28 s away).
    expect(second.headers['retry-after']).toBe(String(TYPICAL_REGISTRATION_S));
    expect(firstRes.status).toBe(201);
    expect(stack.engine.calls.length).toBe(engineCalls + 1);
    // The rejected call did not free the key: a third call replays the first answer.
    const third = await call(body, key);
    expect(third.status).toBe(201);
    expect(third.headers['idempotent-replayed']).toBe('true');
    expect(await opLog(gameId)).toHaveLength(1);
  });

  it('Retry-After is never more than the running call has left before its key expires, and at least 1', async () => {
    // Prepare: the first call holds its key (28 s deadline from the frozen now).
    freezeClock();
    const t0 = Date.now();
    const gameId = newGame();
    const key = newKey();
    const body = registerBody(gameId, stack.engine.url);
    const latch = stack.engine.holdNext();
    const first = call(body, key);
    await latch.arrived;

    // Act: calls that arrive 26.5 s and 27.9 s later (1.5 s and 0.1 s before the key's in-progress expiry).
    vi.setSystemTime(t0 + 26_500);
    const late = await call(body, key);
    vi.setSystemTime(t0 + 27_900);
    const later = await call(body, key);
    vi.setSystemTime(t0);
    latch.release();
    const firstRes = await first;

    // Assess
    expect([late.status, late.body.error.code, late.headers['retry-after']]).toEqual([409, 'request_in_progress', '1']);
    expect([later.status, later.body.error.code, later.headers['retry-after']]).toEqual([409, 'request_in_progress', '1']);
    expect(firstRes.status).toBe(201);
  });

  it('two environments, one key and body, one deadline millisecond: exactly one runs, the other is request_in_progress', async () => {
    // Prepare: two Lambda environments (two cold starts, two key stores),
    // and a frozen clock, so that both calls compute the same key deadline.
    const other = await coldStart('../../functions/register-runtime/handler.ts');
    freezeClock();
    const gameId = newGame();
    const key = newKey();
    const body = registerBody(gameId, stack.engine.url);
    const engineCalls = stack.engine.calls.length;
    const latch = stack.engine.holdNext();
    const emf = captureEmf();

    // Act: A takes the key and is held in the engine; B comes with the same key and body.
    const a = call(body, key, 28_000, handler);
    await latch.arrived;
    const b = await call(body, key, 28_000, other);
    // The key is still A's while A runs: one in-progress item, nothing audited yet.
    const held = await keyItems();
    const logWhileHeld = await opLog(gameId);
    latch.release();
    const aRes = await a;
    emf.restore();

    // Assess
    expect(b.status).toBe(409);
    expect(b.body.error.code).toBe('request_in_progress');
    expect(b.headers['retry-after']).toBe(String(TYPICAL_REGISTRATION_S));
    expect(held.filter((i) => i.status === 'INPROGRESS')).toEqual([expect.objectContaining({ [CALL_TOKEN_ATTR]: expect.any(String) })]);
    expect(logWhileHeld).toEqual([]);
    expect(aRes.status).toBe(201);
    expect(engineCallsSince(engineCalls)).toHaveLength(1);
    expect((await opLog(gameId)).map((e) => e.outcome)).toEqual(['success']);
    // One outcome metric: A's success; B's request_in_progress is not a registration.
    expect(emf.metrics().filter((m) => m.name === 'register_runtime_outcomes')).toHaveLength(1);
    // Once A completed, a retry with the key (in either environment) is a replay.
    const retry = await call(body, key, 28_000, other);
    expect(retry.status).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body).toEqual(aRes.body);
    expect(engineCallsSince(engineCalls)).toHaveLength(1);
    expect(await opLog(gameId)).toHaveLength(1);
  });

  it("the SDK's retry of a call's own landed key Put still finds the key its own", async () => {
    // Prepare: the first Put of the key lands, its answer is dropped; the SDK retries it.
    freezeClock();
    const gameId = newGame();
    const key = newKey();
    const body = registerBody(gameId, stack.engine.url);
    const engineCalls = stack.engine.calls.length;
    const fault = proxy.fault({
      match: requestIs({ op: 'PutItem', table: stack.tables.names.idempotency }),
      mode: 'commit-then-drop',
      times: 1,
    });

    // Act
    const first = await call(body, key);
    const replay = await call(body, key);

    // Assess
    expect(fault.faulted).toBe(1);
    expect(first.status).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(replay.status).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(engineCallsSince(engineCalls)).toHaveLength(1);
    expect((await opLog(gameId)).map((e) => e.outcome)).toEqual(['success']);
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
    await stack.tables.seedAbandonedStarting(gameId, 600, stack.engine.url);
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

/**
 * One keyed call through Powertools and a KeyStore (one KeyStore = one Lambda
 * environment), whose operation waits on a latch: the test decides when it
 * answers or fails. Each call hands Powertools its own payload object.
 */
const payloadFor = (key: string): KeyedPayload => ({ key, body: Buffer.from(`body-of-${key}`).toString('base64') });

/** One Lambda environment's key store (with its log) and a payload under a fresh key. */
function oneEnvironment() {
  const log = new RecordingLog();
  return { log, store: new KeyStore(createDynamoClient(), stack.tables.names.idempotency, log), payload: payloadFor(newKey()) };
}

function keyedCall(store: KeyStore, payload: KeyedPayload, remainingMs = 28_000) {
  let entered!: () => void;
  const arrived = new Promise<void>((resolve) => {
    entered = resolve;
  });
  let finish!: (outcome: { answer: Record<string, string> } | { failure: Error }) => void;
  const gate = new Promise<{ answer: Record<string, string> } | { failure: Error }>((resolve) => {
    finish = resolve;
  });
  const ran = { count: 0 };
  const run = makeIdempotent(
    async (_payload: KeyedPayload, _context: Context) => {
      ran.count++;
      entered();
      const outcome = await gate;
      if ('failure' in outcome) throw outcome.failure;
      return outcome.answer;
    },
    {
      persistenceStore: store,
      config: new IdempotencyConfig({ eventKeyJmesPath: 'key', payloadValidationJmesPath: 'body', expiresAfterSeconds: 3600, throwOnNoIdempotencyKey: true }),
      keyPrefix: IDEMPOTENCY_KEY_PREFIX,
    },
  );
  const result = run({ ...payload }, { getRemainingTimeInMillis: () => remainingMs } as Context);
  // Observed by the test later; never an unhandled rejection meanwhile.
  result.catch(() => undefined);
  return { arrived, result, ran, answer: (answer: Record<string, string>) => finish({ answer }), fail: (failure: Error) => finish({ failure }) };
}

/** The key table's item for a key (its id is Powertools' hash of the key, under the fixed prefix). */
async function keyItem(key: string) {
  const id = `${IDEMPOTENCY_KEY_PREFIX}#${createHash('md5').update(JSON.stringify(key)).digest('base64')}`;
  return (await keyItems()).find((i) => i.id === id);
}

describe('Safe retries: a key store whose first holder outlives its deadline (one environment, frozen mid-call and thawed)', () => {
  /** A took the key, then its deadline passed (the clock jumps), and B re-took it in the same environment; both are running. */
  async function retakenKey() {
    freezeClock();
    const { log, store, payload } = oneEnvironment();
    const a = keyedCall(store, payload);
    await a.arrived;
    const tokenOfA = (await keyItem(payload.key))?.[CALL_TOKEN_ATTR];
    vi.setSystemTime(Date.now() + 60_000);
    const b = keyedCall(store, payload);
    await b.arrived;
    const heldByB = await keyItem(payload.key);
    expect(heldByB).toEqual(expect.objectContaining({ status: 'INPROGRESS' }));
    expect(heldByB?.[CALL_TOKEN_ATTR]).not.toBe(tokenOfA);
    return { log, store, payload, a, b, tokenOfB: heldByB?.[CALL_TOKEN_ATTR] as string };
  }

  it("the expired holder's late completion does not overwrite the retry's key: a third call is request_in_progress, then the retry's answer replays", async () => {
    // Prepare
    const { log, store, payload, a, b, tokenOfB } = await retakenKey();

    // Act: A answers late; its completion (an Update) is refused.
    a.answer({ by: 'a' });
    const answerA = await a.result;
    const afterA = await keyItem(payload.key);
    const c = keyedCall(store, payload);
    const refusedC = await rejectionOf(c.result);

    // Assess: A's answer stands for A; the key is still B's, in progress, with no answer saved.
    expect(answerA).toEqual({ by: 'a' });
    expect(afterA).toEqual(expect.objectContaining({ status: 'INPROGRESS', [CALL_TOKEN_ATTR]: tokenOfB }));
    expect(afterA).not.toHaveProperty('data');
    expect(log.at('warn').map((l) => l.message)).toEqual([
      "idempotency key completion refused: the key was re-taken by another call after this one's deadline",
    ]);
    expect(refusedC).toBeInstanceOf(IdempotencyAlreadyInProgressError);
    expect(c.ran.count).toBe(0);
    // B completes normally (its own token), and its answer is what the key replays.
    b.answer({ by: 'b' });
    expect(await b.result).toEqual({ by: 'b' });
    expect(await keyItem(payload.key)).toEqual(expect.objectContaining({ status: 'COMPLETED', [CALL_TOKEN_ATTR]: tokenOfB }));
    const d = keyedCall(store, payload);
    expect(await d.result).toEqual({ by: 'b' });
    expect(d.ran.count).toBe(0);
  });

  it("the expired holder's late release does not free the retry's key, though both hold the same key hash in one key store", async () => {
    // Prepare
    const { log, store, payload, a, b, tokenOfB } = await retakenKey();

    // Act: A fails late; its release (a Delete) is refused.
    a.fail(new Error('engine failed'));
    const failureA = await rejectionOf(a.result);
    const afterA = await keyItem(payload.key);
    const c = keyedCall(store, payload);
    const refusedC = await rejectionOf(c.result);
    b.fail(new Error('B failed too'));
    await b.result.catch(() => undefined);

    // Assess: A's own failure stands for A; B's key stood until B released it itself.
    expect(failureA).toEqual(new Error('engine failed'));
    expect(afterA).toEqual(expect.objectContaining({ status: 'INPROGRESS', [CALL_TOKEN_ATTR]: tokenOfB }));
    expect(log.at('warn').map((l) => l.message)).toEqual([
      "idempotency key release refused: the key was re-taken by another call after this one's deadline",
    ]);
    expect(refusedC).toBeInstanceOf(IdempotencyAlreadyInProgressError);
    expect(c.ran.count).toBe(0);
    expect(await keyItem(payload.key)).toBeUndefined();
  });

  it("the SDK's retry of a completion that landed unseen finds the key still its own: the answer replays, nothing is refused", async () => {
    // Prepare: the completion Update lands, its answer is dropped; the SDK retries it.
    const { log, store, payload } = oneEnvironment();
    const fault = proxy.fault({ match: requestIs({ op: 'UpdateItem', table: stack.tables.names.idempotency }), mode: 'commit-then-drop', times: 1 });

    // Act
    const first = keyedCall(store, payload);
    first.answer({ by: 'first' });
    const answer = await first.result;
    const replay = keyedCall(store, payload);

    // Assess
    expect(fault.faulted).toBe(1);
    expect(answer).toEqual({ by: 'first' });
    expect(await replay.result).toEqual({ by: 'first' });
    expect(replay.ran.count).toBe(0);
    expect(log.lines).toEqual([]);
  });

  it("the SDK's retry of a release that landed unseen is refused as already free, quietly: the retry of the call runs", async () => {
    // Prepare: the release Delete lands, its answer is dropped; the SDK retries it.
    const { log, store, payload } = oneEnvironment();
    const fault = proxy.fault({ match: requestIs({ op: 'DeleteItem', table: stack.tables.names.idempotency }), mode: 'commit-then-drop', times: 1 });

    // Act
    const first = keyedCall(store, payload);
    first.fail(new Error('not remembered'));
    const failure = await rejectionOf(first.result);
    const afterRelease = await keyItem(payload.key);
    const retry = keyedCall(store, payload);
    retry.answer({ by: 'retry' });

    // Assess
    expect(fault.faulted).toBe(1);
    expect(failure).toEqual(new Error('not remembered'));
    expect(afterRelease).toBeUndefined();
    expect(log.lines.map((l) => [l.level, l.message])).toEqual([['info', 'idempotency key release refused: the key is already free']]);
    expect(await retry.result).toEqual({ by: 'retry' });
    expect(retry.ran.count).toBe(1);
  });
});
