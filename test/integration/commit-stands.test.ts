/**
 * Races between a registration's commit and whatever answers for it, on
 * DynamoDB Local behind the fault proxy: the deadline guard's `abandon`
 * while the commit or the fence is in flight, a lost commit whose fence goes
 * unanswered, a warm environment meeting an existing record, and an expired
 * key holder's late release. A commit that landed stands (201, its success
 * entry, one outcome metric); an outcome that could not be settled is 503
 * "commit outcome unknown" with nothing undone; a key is released only by
 * the call that holds it.
 */
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DeleteItemCommandInput,
  TransactWriteItemsCommand,
  type TransactWriteItemsCommandInput,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { loadConfig } from '../../lib/config.ts';
import { OUTCOME_UNKNOWN_MESSAGE } from '../../lib/register-runtime/register-runtime.ts';
import { buildRegistration } from '../../lib/wiring.ts';
import { type DynamoProxy, requestIs, startDynamoProxy } from '../support/dynamo-proxy.ts';
import { apiEvent, lambdaContext, RecordingLog, RecordingTelemetry, registerBody, WaitingLog } from '../support/harness.ts';
import { coldStart, type Handler, parse, type Stack, startStack } from '../support/stack.ts';

const HANDLER = '../../functions/register-runtime/handler.ts';

let stack: Stack;
let proxy: DynamoProxy;
let counter = 0;
const newGame = () => `g-commit-stands-${++counter}`;

beforeAll(async () => {
  proxy = await startDynamoProxy(inject('dynamoEndpoint'));
  stack = await startStack({ AWS_ENDPOINT_URL_DYNAMODB: proxy.url });
});

afterAll(async () => {
  proxy?.holdIf(undefined);
  await proxy?.close();
  await stack?.close();
});

describe('the deadline guard answers while the commit transaction is in flight', () => {
  it(
    'the commit lands, then the guard fires: the registration stands, with its success entry, one outcome metric, and the guard answers its 201',
    async () => {
      // Prepare: the commit transaction (the one with the compare-and-set and
      // the operation-log Put) is held by the proxy, never answered; the test
      // applies it to DynamoDB Local itself (the commit lands, its answer is
      // never seen). The guard fires 2.5 s after the start.
      const { registerRuntimeHandler } = await import(HANDLER);
      const log = new WaitingLog();
      const telemetry = new RecordingTelemetry();
      const guarded = registerRuntimeHandler(buildRegistration(loadConfig(), { log, telemetry }), {
        deadlineGuardMs: 22_500,
      }) as Handler;
      const gameId = newGame();
      const isCommit = (req: { target: string; body: string }) =>
        req.target.endsWith('TransactWriteItems') &&
        req.body.includes('"Update"') &&
        req.body.includes(stack.tables.names.operationLog) &&
        req.body.includes(gameId);
      proxy.holdIf(isCommit);
      const held = proxy.nextHeld();

      // Act
      const answer = guarded(apiEvent(registerBody(gameId, stack.engine.url)), lambdaContext(25_000));
      const commit = await Promise.race([held, answer.then(() => Promise.reject(new Error('answered before the commit was sent')))]);
      await stack.tables.client.send(new TransactWriteItemsCommand(JSON.parse(commit.body) as TransactWriteItemsCommandInput));
      const res = parse(await answer);
      proxy.holdIf(undefined);

      // The guard settled the commit with the fence, which the landed commit
      // refused (the record is running under this op_id): it answers the 201.
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ game_id: gameId, status: 'running' });
      const rows = await stack.tables.rowsOf(gameId);
      expect(rows.records).toEqual([expect.objectContaining({ status: 'running' })]);
      expect(rows.mappings).toHaveLength(2);
      expect(await stack.tables.outboxOf(gameId)).toHaveLength(1);
      // Spec (step 9, Failure handling): the audit never disagrees with the
      // tables; a registration that stands has its success entry, and one
      // operation has one outcome metric.
      expect(rows.log.map((e) => e.outcome)).toEqual(['success']);
      expect(telemetry.outcomes).toHaveLength(1);
    },
  );
});

describe('the deadline guard answers 201 for a keyed call whose commit landed unseen', () => {
  it(
    'saves that 201 under the key before answering: a retry after the first call\'s deadline (its environment frozen since) is replayed it',
    async () => {
      // Prepare: the commit transaction is held (the test applies it: it
      // lands, its answer never comes back). Once the guard has answered,
      // every further key write is held too: the environment is frozen.
      const { registerRuntimeHandler } = await import(HANDLER);
      const guarded = registerRuntimeHandler(buildRegistration(loadConfig(), { log: new RecordingLog(), telemetry: new RecordingTelemetry() }), {
        deadlineGuardMs: 22_500,
      }) as Handler;
      const gameId = newGame();
      const body = registerBody(gameId, stack.engine.url);
      const headers = { 'Idempotency-Key': `key-${gameId}` };
      const isCommit = (req: { target: string; body: string }) =>
        req.target.endsWith('TransactWriteItems') && req.body.includes('"Update"') && req.body.includes(stack.tables.names.operationLog) && req.body.includes(gameId);
      const isKeyWrite = (req: { target: string; body: string }) =>
        (req.target.endsWith('UpdateItem') || req.target.endsWith('DeleteItem')) && req.body.includes(stack.tables.names.idempotency);
      proxy.holdIf(isCommit);
      const held = proxy.nextHeld();

      // Act: the first call; the guard fires 2.5 s after the start, during the commit.
      const answer = guarded(apiEvent(body, { headers }), lambdaContext(25_000));
      const commit = await Promise.race([held, answer.then(() => Promise.reject(new Error('answered before the commit was sent')))]);
      await stack.tables.client.send(new TransactWriteItemsCommand(JSON.parse(commit.body) as TransactWriteItemsCommandInput));
      const first = parse(await answer);
      proxy.holdIf((req) => isCommit(req) || isKeyWrite(req));
      // Lobby did not get that answer: it retries with the same key and body
      // after the first call's deadline (its in-progress expiry has passed).
      const realNow = Date.now.bind(Date);
      vi.spyOn(Date, 'now').mockImplementation(() => realNow() + 60_000);
      const retryHandler = registerRuntimeHandler(buildRegistration(loadConfig(), { log: new RecordingLog(), telemetry: new RecordingTelemetry() })) as Handler;
      const retry = parse(await retryHandler(apiEvent(body, { headers }), lambdaContext(25_000)));
      vi.restoreAllMocks();
      proxy.holdIf(undefined);

      // Assess: the guard answered the 201 (the commit landed), and the key replays it.
      expect(first.status).toBe(201);
      expect((await stack.tables.rowsOf(gameId)).records).toEqual([expect.objectContaining({ status: 'running' })]);
      expect({ status: retry.status, replayed: retry.headers['idempotent-replayed'], body: retry.body }).toEqual({
        status: 201,
        replayed: 'true',
        body: first.body,
      });
    },
  );
});

describe('a commit that landed unseen, then a brownout (its fence unanswered)', () => {
  it(
    'answers 503 "commit outcome unknown" and undoes nothing: the registration stands whole with its success entry alone',
    async () => {
      // Prepare: a fresh environment on the proxy; the commit lands but every
      // answer is dropped, then the fence fails on every attempt.
      const handler = await coldStart(HANDLER);
      const gameId = newGame();
      const tables = stack.tables.names;
      proxy.fault({ match: requestIs({ op: 'TransactWriteItems', withUpdate: true, table: tables.operationLog, bodyIncludes: gameId }), mode: 'commit-then-drop' });
      proxy.fault({ match: requestIs({ op: 'UpdateItem', table: tables.runtimeRecords, bodyIncludes: gameId }), mode: 'internal-error' });

      // Act
      const res = parse(await handler(apiEvent(registerBody(gameId, stack.engine.url)), lambdaContext()));
      proxy.clearFaults();

      // Assess: never a definitive failure for what may have landed (it did):
      // nothing was undone, no failure entry, and GET tells the truth.
      expect(res).toMatchObject({ status: 503, body: { error: { code: 'service_unavailable', message: OUTCOME_UNKNOWN_MESSAGE } } });
      const rows = await stack.tables.rowsOf(gameId);
      expect(rows.records).toEqual([expect.objectContaining({ status: 'running' })]);
      expect(rows.mappings).toHaveLength(2);
      expect(await stack.tables.outboxOf(gameId)).toHaveLength(1);
      expect(rows.log.map((e) => e.outcome)).toEqual(['success']);
    },
  );
});

describe('the deadline guard fires while the fence is in flight', () => {
  it(
    'the fence never answers within the guard\'s budget: 503 "commit outcome unknown" from the guard, one metric, nothing undone or audited',
    async () => {
      // Prepare: the commit fails (it did not land), and every fence attempt is
      // held by the proxy; the guard fires 2.5 s after the start.
      const { registerRuntimeHandler } = await import(HANDLER);
      const telemetry = new RecordingTelemetry();
      const guarded = registerRuntimeHandler(buildRegistration(loadConfig(), { log: new RecordingLog(), telemetry }), {
        deadlineGuardMs: 22_500,
      }) as Handler;
      const gameId = newGame();
      const tables = stack.tables.names;
      proxy.fault({ match: requestIs({ op: 'TransactWriteItems', withUpdate: true, table: tables.operationLog, bodyIncludes: gameId }), mode: 'internal-error' });
      proxy.holdIf((req) => req.target.endsWith('UpdateItem') && req.body.includes(tables.runtimeRecords) && req.body.includes(gameId));
      const fenceHeld = proxy.nextHeld();

      // Act
      const answer = guarded(apiEvent(registerBody(gameId, stack.engine.url)), lambdaContext(25_000));
      await Promise.race([fenceHeld, answer.then(() => Promise.reject(new Error('answered before the fence was sent')))]);
      const res = parse(await answer);
      proxy.holdIf(undefined);
      proxy.clearFaults();

      // Assess: the commit did not land, but nothing settled that: no rollback, no entry.
      expect(res).toMatchObject({ status: 503, body: { error: { code: 'service_unavailable', message: OUTCOME_UNKNOWN_MESSAGE } } });
      expect(telemetry.outcomes).toEqual([{ outcome: 'failure', error_code: 'service_unavailable' }]);
      const rows = await stack.tables.rowsOf(gameId);
      expect(rows.records).toEqual([expect.objectContaining({ status: 'starting' })]);
      expect(rows.records[0]).not.toHaveProperty('reclaim_started_at');
      expect(rows.mappings).toEqual([]);
      expect(rows.log).toEqual([]);
      expect(await stack.tables.outboxOf(gameId)).toEqual([]);
    },
  );
});

describe('a warm environment (version known) meets an existing record', () => {
  it('answers conflict as a cold one does, through the refused insert alone, and leaves the standing record and its rows untouched', async () => {
    // Prepare: a fresh environment; a first registration warms the version cache
    // and creates the record that the next call meets.
    const handler = await coldStart(HANDLER);
    const gameId = newGame();
    const first = parse(await handler(apiEvent(registerBody(gameId, stack.engine.url)), lambdaContext()));
    expect(first.status).toBe(201);
    const before = await stack.tables.rowsOf(gameId);
    const outboxBefore = await stack.tables.outboxOf(gameId);
    const engineCalls = stack.engine.calls.length;
    const from = proxy.requests.length;

    // Act
    const res = parse(await handler(apiEvent(registerBody(gameId, stack.engine.url)), lambdaContext()));

    // Assess: the same answer as the cold path's step 1.
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ error: { code: 'conflict', message: 'runtime record already exists' } });
    // No read: the conditional insert answered (then the failure entry).
    expect(proxy.requests.slice(from).map((r) => r.op)).toEqual(['PutItem', 'PutItem']);
    expect(stack.engine.calls.length).toBe(engineCalls);
    const after = await stack.tables.rowsOf(gameId);
    expect(after.records).toEqual(before.records);
    expect(after.mappings).toEqual(before.mappings);
    expect(await stack.tables.outboxOf(gameId)).toEqual(outboxBefore);
    expect(after.log.map((e) => [e.outcome, e.error_code])).toEqual(
      expect.arrayContaining([
        ['success', ''],
        ['failure', 'conflict'],
      ]),
    );
    expect(after.log).toHaveLength(2);
  });
});

describe('Safe retries, a key re-taken after its first holder\'s deadline', () => {
  it(
    'the first holder\'s late release (a Delete conditional on its own token) is refused: the key stays its retry\'s, and a third call is request_in_progress',
    async () => {
      // Prepare: call A's deadline has passed when it takes the key (1 ms left:
      // its in-progress expiry is now), so it fails at once and releases the
      // key; that release is held by the proxy (it lands late, below).
      const log = new RecordingLog();
      const { safeRetries } = buildRegistration(loadConfig(), { log, telemetry: new RecordingTelemetry() });
      const gameId = newGame();
      const body = JSON.stringify(registerBody(gameId, stack.engine.url));
      const key = `commit-stands-${gameId}`;
      const call = (remaining: number, ref: string) => ({
        body,
        isBase64Encoded: false,
        opSource: 'lobby_internal',
        sourceRef: ref,
        remainingTimeMs: () => remaining,
      });
      const isKeyRelease = (req: { target: string; body: string }) =>
        req.target.endsWith('DeleteItem') && req.body.includes(stack.tables.names.idempotency);
      proxy.holdIf(isKeyRelease);
      const release = proxy.nextHeld();

      // Act: A takes the key and fails; its release is held.
      const a = safeRetries.handle(call(1, 'call-a'), key);
      const heldRelease = await Promise.race([release, a.then(() => Promise.reject(new Error('A answered before releasing its key')))]);
      // B (Lobby's retry, after A's deadline) takes the key and is held in the engine.
      const engine = stack.engine.holdNext();
      const b = safeRetries.handle(call(28_000, 'call-b'), key);
      await Promise.race([engine.arrived, b.then(() => Promise.reject(new Error('B answered before reaching the engine')))]);
      // A's release lands now, late: refused (its condition names A's token; the key is B's).
      await expect(
        stack.tables.client.send(new DeleteItemCommand(JSON.parse(heldRelease.body) as DeleteItemCommandInput)),
      ).rejects.toBeInstanceOf(ConditionalCheckFailedException);
      // C arrives while B still runs.
      const c = await safeRetries.handle(call(28_000, 'call-c'), key);
      engine.release();
      const answerB = await b;
      proxy.holdIf(undefined);
      await a;

      // Assess: B ran; C must not have run (spec: same key while the first call is still running: 409 request_in_progress, nothing runs).
      expect(answerB.statusCode).toBe(201);
      const rows = await stack.tables.rowsOf(gameId);
      expect(rows.log.filter((e) => e.source_ref === 'call-c')).toEqual([]);
      expect(c.statusCode).toBe(409);
      expect(JSON.parse(String(c.body)).error.code).toBe('request_in_progress');
      // A's own (SDK-retried) release was refused too, and said so; B's completed item stands and replays.
      expect(log.at('warn').map((l) => l.message)).toContain(
        "idempotency key release refused: the key was re-taken by another call after this one's deadline",
      );
      const replay = await safeRetries.handle(call(28_000, 'call-d'), key);
      expect(replay.statusCode).toBe(201);
      expect(replay.headers?.['Idempotent-Replayed']).toBe('true');
      // A's failure and B's success are audited; C and the replay D ran nothing.
      expect((await stack.tables.rowsOf(gameId)).log.map((e) => e.source_ref).sort()).toEqual(['call-a', 'call-b']);
    },
  );
});
