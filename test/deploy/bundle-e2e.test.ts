/**
 * The handlers as deployed, run end to end: `serverless package --stage ci`
 * (offline, no AWS credentials), the three functions' zips unpacked, and the
 * BUNDLED handlers run in child processes under Node 24, loaded as Lambda
 * loads them (test/support/bundled-lambda.ts), with the deployed environment
 * pointed at the run's DynamoDB Local (behind the fault-injecting proxy),
 * the loopback engine and the EventBridge double. The snapshot event goes
 * register -> outbox -> DynamoDB Local's stream -> the bundled
 * publishSnapshots (test/support/stream-relay.ts) -> EventBridge double.
 * Every case checks the answer and the rows left in every table, outbox
 * included. Ordering is by latches (engine handlers, the child's stderr),
 * never by sleeping.
 */
import { join } from 'node:path';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyStructuredResultV2, DynamoDBBatchResponse } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_AWS_ENV, type TableKey } from '../../infra/local-stack.ts';
import { type BundledFunction, type PackagedService, packageService, startBundledFunction, unpackFunction } from '../support/bundled-lambda.ts';
import { createTestTables, type TestTables } from '../support/dynamo.ts';
import { type DynamoProxy, requestIs, startDynamoProxy } from '../support/dynamo-proxy.ts';
import { type EngineServer, startEngineServer } from '../support/engine-server.ts';
import { type EventBridgeDouble, startEventBridgeServer } from '../support/eventbridge-server.ts';
import { apiEvent, registerBody } from '../support/harness.ts';
import { healthyOutboxDetail } from '../support/stack.ts';
import { StreamRelay } from '../support/stream-relay.ts';

const STAGE = 'ci';
const PACKAGE_TIMEOUT_MS = 200_000;
const VERSION = '1.4.2';
const IMAGE = 'registry.local/galaxy/engine:1.4.2';
const REGISTER = 'RegisterRuntimeLambdaFunction';
const RECONCILE = 'ReconcileStartingLambdaFunction';
const PUBLISH = 'PublishSnapshotsLambdaFunction';
const TABLE_KEYS: TableKey[] = ['runtimeRecords', 'engineVersions', 'playerMappings', 'operationLog', 'idempotency', 'outbox'];

type Json = any;
type Rows = Record<TableKey, Record<string, unknown>[]>;

let packaged: PackagedService;
let tables: TestTables;
let engine: EngineServer;
let events: EventBridgeDouble;
let proxy: DynamoProxy;
/** The warm registerRuntime container every case but the killed one is served by. */
let register: BundledFunction;
let registerDir: string;
let reconcileDir: string;
/** The warm publishSnapshots container, fed by the outbox stream. */
let publish: BundledFunction;
let relay: StreamRelay;
let counter = 0;
const newGame = () => `g-bundle-${++counter}`;

function fn(logicalId: string): Json {
  const resource = packaged.template.Resources[logicalId];
  expect(resource?.Type, `${logicalId} is a Lambda function`).toBe('AWS::Lambda::Function');
  return resource;
}

/**
 * The function's deployed environment (template variables, as plain strings)
 * and what Lambda adds, pointed at the local stack.
 */
function lambdaEnv(logicalId: string, taskRoot: string, overrides: Record<string, string> = {}): Record<string, string> {
  const props = fn(logicalId).Properties;
  return {
    ...(props.Environment.Variables as Record<string, string>),
    AWS_LAMBDA_FUNCTION_NAME: props.FunctionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(props.MemorySize),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    LAMBDA_TASK_ROOT: taskRoot,
    _HANDLER: props.Handler,
    TZ: ':UTC',
    ...LOCAL_AWS_ENV,
    ...tables.env,
    AWS_ENDPOINT_URL_EVENTBRIDGE: events.url,
    ENGINE_ALLOWED_HOSTS: '127.0.0.1',
    ENGINE_ALLOW_LOOPBACK: 'true',
    ...overrides,
  };
}

/** registerRuntime in a new process (a cold start), its DynamoDB requests going through the proxy. */
function startRegister(): Promise<BundledFunction> {
  return startBundledFunction(registerDir, fn(REGISTER).Properties.Handler, lambdaEnv(REGISTER, registerDir, { AWS_ENDPOINT_URL_DYNAMODB: proxy.url }));
}

async function invokeRegister(fnc: BundledFunction, event: unknown, context?: Parameters<BundledFunction['invoke']>[1]) {
  const result = await fnc.invoke<APIGatewayProxyStructuredResultV2>(event, context);
  return {
    status: result.statusCode ?? 0,
    // Header names compare case-insensitively: keyed in lower case here.
    headers: Object.fromEntries(Object.entries(result.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
    body: JSON.parse(String(result.body)) as Json,
  };
}

async function allRows(): Promise<Rows> {
  const rows = {} as Rows;
  for (const key of TABLE_KEYS) rows[key] = await tables.scan(key);
  return rows;
}

/** What each table gained since `before` (rows removed or changed are reported too, as failures). */
function changes(before: Rows, after: Rows): Record<TableKey, { added: Record<string, unknown>[]; removedOrChanged: Record<string, unknown>[] }> {
  const out = {} as ReturnType<typeof changes>;
  for (const key of TABLE_KEYS) {
    const was = new Set(before[key].map((r) => JSON.stringify(r, Object.keys(r).sort())));
    const is = new Set(after[key].map((r) => JSON.stringify(r, Object.keys(r).sort())));
    out[key] = {
      added: after[key].filter((r) => !was.has(JSON.stringify(r, Object.keys(r).sort()))),
      removedOrChanged: before[key].filter((r) => !is.has(JSON.stringify(r, Object.keys(r).sort()))),
    };
  }
  return out;
}

/** Rows added per table, and nothing else touched. */
function expectAdded(before: Rows, after: Rows, added: Partial<Record<TableKey, number>>): ReturnType<typeof changes> {
  const diff = changes(before, after);
  for (const key of TABLE_KEYS) {
    expect(diff[key].removedOrChanged, `${key}: rows removed or changed`).toEqual([]);
    expect(diff[key].added, `${key}: rows added`).toHaveLength(added[key] ?? 0);
  }
  return diff;
}

function expectFailureEntry(entry: Record<string, unknown> | undefined, code: string, message?: string | RegExp): void {
  expect(entry).toMatchObject({ outcome: 'failure', op_kind: 'register_runtime', op_source: 'lobby_internal', error_code: code });
  if (typeof message === 'string') expect(entry?.error_message).toBe(message);
  else if (message) expect(entry?.error_message).toMatch(message);
}

/** The register_runtime_outcomes EMF documents a bundled function printed since index `from`. */
function outcomesPrinted(fnc: BundledFunction, from: number): Record<string, unknown>[] {
  return fnc.printed
    .slice(from)
    .filter(
      (d): d is Record<string, unknown> =>
        typeof d === 'object' && d !== null && '_aws' in d && 'register_runtime_outcomes' in (d as Record<string, unknown>),
    );
}

/** Resolves once the function's stderr (from `from` on) matches `pattern`: a latch on its output, not a poll. */
function stderrMatches(fnc: BundledFunction, from: number, pattern: RegExp): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!pattern.test(fnc.stderr().slice(from))) return false;
      fnc.child.stderr?.off('data', onData);
      resolve();
      return true;
    };
    const onData = () => void check();
    fnc.child.stderr?.on('data', onData);
    // What arrived before the listener was added.
    check();
  });
}

beforeAll(async () => {
  const [service, t, e, ev] = await Promise.all([
    packageService(STAGE, PACKAGE_TIMEOUT_MS),
    createTestTables(),
    startEngineServer(),
    startEventBridgeServer(),
  ]);
  packaged = service;
  tables = t;
  engine = e;
  events = ev;
  await tables.seedEngineVersion(VERSION, IMAGE);
  proxy = await startDynamoProxy(tables.endpoint);
  registerDir = join(packaged.work, 'registerRuntime');
  reconcileDir = join(packaged.work, 'reconcileStarting');
  unpackFunction(join(packaged.pkg, 'registerRuntime.zip'), registerDir);
  unpackFunction(join(packaged.pkg, 'reconcileStarting.zip'), reconcileDir);
  const publishDir = join(packaged.work, 'publishSnapshots');
  unpackFunction(join(packaged.pkg, 'publishSnapshots.zip'), publishDir);
  register = await startRegister();
  publish = await startBundledFunction(publishDir, fn(PUBLISH).Properties.Handler, lambdaEnv(PUBLISH, publishDir));
  relay = await StreamRelay.open({
    endpoint: tables.endpoint,
    table: tables.names.outbox,
    handler: (event) => publish.invoke<DynamoDBBatchResponse>(event, { kind: 'lambda', remainingMs: 30_000 }),
  });
}, PACKAGE_TIMEOUT_MS + 60_000);

afterAll(async () => {
  relay?.close();
  await publish?.stop();
  await register?.stop();
  await proxy?.close();
  await engine?.close();
  await events?.close();
  packaged?.remove();
});

describe('the bundled registerRuntime (serverless package --stage ci), on DynamoDB Local', () => {
  it('registers: 201 with the record, rows in every table (one outbox item); the bundled relay delivers the snapshot event', async () => {
    // Prepare
    await relay.pump();
    const gameId = newGame();
    const before = await allRows();
    const eventsBefore = events.entries.length;
    const printedBefore = register.printed.length;
    const relayPrintedBefore = publish.printed.length;

    // Act
    const res = await invokeRegister(register, apiEvent(registerBody(gameId, engine.url), { headers: { 'x-request-id': 'bundle-req-1' } }));

    // Assess
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.body).toEqual({
      game_id: gameId,
      status: 'running',
      engine_endpoint: engine.url,
      current_image_ref: IMAGE,
      current_engine_version: VERSION,
      turn_schedule: '0 */6 * * *',
      current_turn: 0,
      next_generation_at: expect.any(String),
      skip_next_tick: false,
      engine_health: '',
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    const next = new Date(res.body.next_generation_at);
    expect(next.getTime()).toBeGreaterThan(new Date(res.body.created_at).getTime());
    expect([next.getUTCHours() % 6, next.getUTCMinutes()]).toEqual([0, 0]);

    const diff = expectAdded(before, await allRows(), { runtimeRecords: 1, playerMappings: 2, operationLog: 1, outbox: 1 });
    expect(diff.runtimeRecords.added[0]).toMatchObject(res.body);
    expect(diff.runtimeRecords.added[0]).not.toHaveProperty('starting_marker');
    expect(diff.playerMappings.added.map((m) => [m.game_id, m.user_id, m.race_name]).sort()).toEqual([
      [gameId, 'u-001', 'Race 1'],
      [gameId, 'u-002', 'Race 2'],
    ]);
    for (const m of diff.playerMappings.added) expect(m.engine_player_uuid).toEqual(expect.any(String));
    expect(diff.operationLog.added[0]).toMatchObject({
      game_id: gameId,
      outcome: 'success',
      op_kind: 'register_runtime',
      op_source: 'lobby_internal',
      source_ref: 'bundle-req-1',
      error_code: '',
    });

    const [item] = diff.outbox.added;
    expect(item).toMatchObject({ event_id: diff.runtimeRecords.added[0]?.op_id, game_id: gameId, detail_type: 'runtime_snapshot_update' });
    // The register function sent nothing itself.
    expect(events.entries.length).toBe(eventsBefore);
    // The bundled Powertools printed the outcome metric (EMF) on stdout.
    expect(outcomesPrinted(register, printedBefore)).toEqual([expect.objectContaining({ outcome: 'success', error_code: 'none' })]);

    // Act 2: the stream's insert, handed to the bundled publishSnapshots.
    const invocations = await relay.pump();

    // Assess 2: delivered once, Detail byte for byte as stored, the relay's metrics printed.
    expect(invocations).toEqual([{ records: [expect.objectContaining({ eventName: 'INSERT' })], failed: [] }]);
    const published = events.entries.slice(eventsBefore);
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({
      Source: 'galaxy.gamemaster',
      DetailType: 'runtime_snapshot_update',
      EventBusName: fn(PUBLISH).Properties.Environment.Variables.EVENT_BUS_NAME,
      accepted: true,
    });
    expect(published[0]?.Detail).toBe(item?.detail);
    expect(published[0]?.detail).toEqual({ ...healthyOutboxDetail(gameId, ['u-001', 'u-002']), event_id: item?.event_id });
    const relayMetrics = publish.printed
      .slice(relayPrintedBefore)
      .filter((d): d is Record<string, unknown> => typeof d === 'object' && d !== null && '_aws' in d);
    expect(relayMetrics).toEqual([
      expect.objectContaining({ event_type: 'runtime_snapshot_update', lobby_events_published: 1 }),
      expect.objectContaining({ event_type: 'runtime_snapshot_update', lobby_event_delivery_lag: expect.any(Number) }),
    ]);
  });

  it('answers 409 conflict to a second registration and leaves the first untouched', async () => {
    // Prepare
    const gameId = newGame();
    expect((await invokeRegister(register, apiEvent(registerBody(gameId, engine.url)))).status).toBe(201);
    const before = await allRows();
    const engineCalls = engine.calls.length;
    const eventsBefore = events.entries.length;

    // Act
    const res = await invokeRegister(register, apiEvent(registerBody(gameId, `${engine.url}/ok`, { members: 3 })));

    // Assess
    expect(res.status).toBe(409);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.body).toEqual({ error: { code: 'conflict', message: 'runtime record already exists' } });
    expect(engine.calls.length).toBe(engineCalls);
    expect(events.entries.length).toBe(eventsBefore);
    const diff = expectAdded(before, await allRows(), { operationLog: 1 });
    expect(diff.operationLog.added[0]?.game_id).toBe(gameId);
    expectFailureEntry(diff.operationLog.added[0], 'conflict');
    const rows = await tables.rowsOf(gameId);
    expect(rows.records[0]?.status).toBe('running');
    expect(rows.mappings).toHaveLength(2);
  });

  it('answers 502 engine_unreachable when the engine answers 503, and leaves nothing but the audit entry', async () => {
    // Prepare
    const gameId = newGame();
    const before = await allRows();
    const engineCalls = engine.calls.length;
    const eventsBefore = events.entries.length;

    // Act
    const res = await invokeRegister(register, apiEvent(registerBody(gameId, `${engine.url}/status-503`)));

    // Assess
    expect(res.status).toBe(502);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.body.error.code).toBe('engine_unreachable');
    expect(res.body.error.message).toMatch(/^engine init: /);
    expect(engine.calls.length).toBe(engineCalls + 1);
    expect(events.entries.length).toBe(eventsBefore);
    const diff = expectAdded(before, await allRows(), { operationLog: 1 });
    expect(diff.operationLog.added[0]?.game_id).toBe(gameId);
    expectFailureEntry(diff.operationLog.added[0], 'engine_unreachable', res.body.error.message);
  });

  it('replays a keyed 201 with Idempotent-Replayed: true and runs nothing again', async () => {
    // Prepare
    const gameId = newGame();
    const key = `bundle-key-${gameId}`;
    const body = registerBody(gameId, engine.url);
    const before = await allRows();
    const engineCalls = engine.calls.length;
    const eventsBefore = events.entries.length;

    // Act
    const first = await invokeRegister(register, apiEvent(body, { headers: { 'Idempotency-Key': key } }));
    const afterFirst = await allRows();
    const second = await invokeRegister(register, apiEvent(body, { headers: { 'Idempotency-Key': key } }));

    // Assess
    expect(first.status).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(second.status).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.headers['content-type']).toBe('application/json');
    expect(second.body).toEqual(first.body);
    expect(first.body).toMatchObject({ game_id: gameId, status: 'running' });
    expect(engine.calls.length).toBe(engineCalls + 1);
    expect(events.entries.length).toBe(eventsBefore);
    const diff = expectAdded(before, afterFirst, { runtimeRecords: 1, playerMappings: 2, operationLog: 1, idempotency: 1, outbox: 1 });
    expect(diff.operationLog.added[0]).toMatchObject({ game_id: gameId, outcome: 'success' });
    expect(diff.idempotency.added[0]).toMatchObject({ status: 'COMPLETED' });
    // The replay wrote nothing at all.
    expectAdded(afterFirst, await allRows(), {});
  });

  it('answers 503 service_unavailable when the commit transaction fails, and leaves nothing but the audit entry', async () => {
    // Prepare
    const gameId = newGame();
    const before = await allRows();
    const eventsBefore = events.entries.length;
    const stderrBefore = register.stderr().length;
    // The commit transaction: the one that carries the audit entry.
    const fault = proxy.fault({ match: requestIs({ op: 'TransactWriteItems', table: tables.names.operationLog }), mode: 'internal-error' });

    // Act
    const res = await invokeRegister(register, apiEvent(registerBody(gameId, engine.url))).finally(() => fault.remove());

    // Assess
    expect(fault.faulted).toBeGreaterThanOrEqual(1);
    expect(res.status).toBe(503);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.body).toEqual({ error: { code: 'service_unavailable', message: 'commit runtime record: store request failed' } });
    expect(events.entries.length).toBe(eventsBefore);
    const diff = expectAdded(before, await allRows(), { operationLog: 1 });
    expect(diff.operationLog.added[0]?.game_id).toBe(gameId);
    expectFailureEntry(diff.operationLog.added[0], 'service_unavailable', 'commit runtime record: store request failed');
    // One warning line for the failure; no error line (the rollback went through).
    // stderr is a pipe of its own: its lines may arrive after the answer.
    await stderrMatches(register, stderrBefore, /"error_code":"service_unavailable".*\n/);
    const logged = register
      .stderr()
      .slice(stderrBefore)
      .split('\n')
      .slice(0, -1)
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged.filter((l) => l.level === 'ERROR')).toEqual([]);
    expect(logged.filter((l) => l.level === 'WARN')).toEqual([
      expect.objectContaining({ game_id: gameId, error_code: 'service_unavailable', op_source: 'lobby_internal', engine_version: VERSION }),
    ]);
  });

  it('answers 201 when invoked with an empty context object (the 28 s fallback deadline), with and without a key', async () => {
    // Prepare
    const plainGame = newGame();
    const keyedGame = newGame();
    const before = await allRows();

    // Act
    const plain = await invokeRegister(register, apiEvent(registerBody(plainGame, engine.url)), { kind: 'raw', value: {} });
    const keyed = await invokeRegister(register, apiEvent(registerBody(keyedGame, engine.url), { headers: { 'Idempotency-Key': `ctx-${keyedGame}` } }), {
      kind: 'raw',
      value: {},
    });

    // Assess
    expect([plain.status, keyed.status], JSON.stringify([plain.body, keyed.body])).toEqual([201, 201]);
    expect(plain.body).toMatchObject({ game_id: plainGame, status: 'running' });
    expect(keyed.body).toMatchObject({ game_id: keyedGame, status: 'running' });
    const diff = expectAdded(before, await allRows(), { runtimeRecords: 2, playerMappings: 4, operationLog: 2, idempotency: 1, outbox: 2 });
    expect(diff.runtimeRecords.added.map((r) => [r.game_id, r.status]).sort()).toEqual([
      [plainGame, 'running'],
      [keyedGame, 'running'],
    ]);
    expect(diff.operationLog.added.map((e) => e.outcome)).toEqual(['success', 'success']);
  });

  it('never loads Node\'s own fetch (undici, web streams): not at cold start, not for a registration, not for a keyed one', async () => {
    // Prepare: a fresh environment (its DynamoDB endpoint is http:, so the
    // SDK's node:http path is taken too).
    const fresh = await startRegister();
    try {
      const loadedAtColdStart = await fresh.fetchLoaded();
      const plainGame = newGame();
      const keyedGame = newGame();

      // Act
      const plain = await invokeRegister(fresh, apiEvent(registerBody(plainGame, engine.url)));
      const loadedAfterPlain = await fresh.fetchLoaded();
      const keyed = await invokeRegister(fresh, apiEvent(registerBody(keyedGame, engine.url), { headers: { 'Idempotency-Key': `fetch-${keyedGame}` } }));
      const loadedAfterKeyed = await fresh.fetchLoaded();

      // Assess
      expect([plain.status, keyed.status], JSON.stringify([plain.body, keyed.body])).toEqual([201, 201]);
      expect({ loadedAtColdStart, loadedAfterPlain, loadedAfterKeyed }).toEqual({ loadedAtColdStart: false, loadedAfterPlain: false, loadedAfterKeyed: false });
    } finally {
      await fresh.stop();
    }
  });
});

describe('cold_start in the bundled registerRuntime\'s log lines (operators filter on it)', () => {
  it('is true in the first log line of a fresh environment (AWS_LAMBDA_INITIALIZATION_TYPE on-demand, as Lambda sets it) and false afterwards', async () => {
    // Prepare: a fresh environment (a new process: a cold start).
    const fresh = await startRegister();
    try {
      const logLines = () => fresh.printed.filter((l): l is Record<string, unknown> => typeof (l as Json)?.level === 'string');
      expect(logLines()).toEqual([]);

      // Act
      const first = await invokeRegister(fresh, apiEvent(registerBody(newGame(), engine.url)));
      const afterFirst = logLines().length;
      const second = await invokeRegister(fresh, apiEvent(registerBody(newGame(), engine.url)));

      // Assess
      expect([first.status, second.status]).toEqual([201, 201]);
      const lines = logLines();
      expect(afterFirst).toBeGreaterThan(0);
      expect(lines[0]).toMatchObject({ message: 'runtime registered', cold_start: true });
      expect(lines.slice(1, afterFirst).every((l) => l.cold_start === true)).toBe(true);
      expect(lines.length).toBeGreaterThan(afterFirst);
      expect(lines.slice(afterFirst).map((l) => l.cold_start)).toEqual(lines.slice(afterFirst).map(() => false));
    } finally {
      await fresh.stop();
    }
  });
});

describe('the bundled reconcileStarting, after a bundled registration is killed', () => {
  it('reclaims a registration killed (SIGKILL) while the engine hung: nothing left but the audit entries', async () => {
    // Prepare: a registration in a process of its own, killed while the engine hangs.
    const gameId = newGame();
    const before = await allRows();
    const victim = await startRegister();
    // The engine never answers this call; the latch opens when it arrives.
    const engineCalled = new Promise<void>((resolve) => engine.setNextHandler(() => resolve()));
    const answer = invokeRegister(victim, apiEvent(registerBody(gameId, engine.url)));
    answer.catch(() => undefined);
    await engineCalled;
    victim.child.kill('SIGKILL');
    expect((await victim.exited).signal).toBe('SIGKILL');
    await expect(answer).rejects.toThrow(/exited/);
    const killed = expectAdded(before, await allRows(), { runtimeRecords: 1 });
    expect(killed.runtimeRecords.added[0]).toMatchObject({ game_id: gameId, status: 'starting' });
    const opId = killed.runtimeRecords.added[0]?.op_id;
    expect(opId).toEqual(expect.any(String));
    // Older than STARTING_TIMEOUT_S (120 s), without waiting: the record is
    // dated back (the index of starting records follows created_at).
    const createdAt = new Date(Date.now() - 10 * 60_000).toISOString();
    await tables.doc.send(
      new UpdateCommand({ TableName: tables.names.runtimeRecords, Key: { game_id: gameId }, UpdateExpression: 'SET created_at = :c', ExpressionAttributeValues: { ':c': createdAt } }),
    );
    const reconcile = await startBundledFunction(
      reconcileDir,
      fn(RECONCILE).Properties.Handler,
      lambdaEnv(RECONCILE, reconcileDir),
    );
    const scheduled = {
      version: '0',
      id: 'a1b2c3d4-0000-4000-8000-000000000000',
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: '000000000000',
      time: new Date().toISOString(),
      region: 'us-east-1',
      resources: ['arn:aws:events:us-east-1:000000000000:rule/game-master-ci-reconcile'],
      detail: {},
    };

    // Act
    const result = await reconcile.invoke(scheduled, { kind: 'lambda', remainingMs: 50_000 }).finally(() => reconcile.stop());

    // Assess
    expect(result).toEqual({ examined: 1, reclaimed: 1 });
    const diff = expectAdded(before, await allRows(), { operationLog: 1 });
    // Nothing on the stream for the reclaimed registration: no outbox item was ever written.
    expect((await relay.read()).filter((r) => r.dynamodb?.NewImage?.game_id?.S === gameId)).toEqual([]);
    expect(diff.operationLog.added[0]).toMatchObject({
      game_id: gameId,
      op_kind: 'register_runtime',
      op_source: 'reconciler',
      outcome: 'failure',
      error_code: 'registration_abandoned',
      source_ref: opId,
    });
    expect(outcomesPrinted(reconcile, 0)).toEqual([expect.objectContaining({ outcome: 'failure', error_code: 'registration_abandoned' })]);

    // The game can be registered again, by the bundled handler.
    const again = await invokeRegister(register, apiEvent(registerBody(gameId, engine.url)));
    expect(again.status).toBe(201);
    expect((await tables.rowsOf(gameId)).records[0]?.status).toBe('running');
  });
});
