/**
 * The failure table of the spec, row by row, with the DynamoDB SDK mocked
 * (aws-sdk-client-mock): each test forces one failure and asserts the
 * answer, what was rolled back (after the fence that settles an attempted
 * commit), the operation-log entry and the outcome metric.
 */
import { ConditionalCheckFailedException, DynamoDBClient, PutItemCommand, TransactionCanceledException, TransactionConflictException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DynamoRegistrationCommitter } from '../../lib/adapters/registration-committer.ts';
import { loadConfig } from '../../lib/config.ts';
import { outcomeAnswer } from '../../lib/http/responses.ts';
import { checkAnswer } from '../support/contract.ts';
import type { EngineInitPlayer } from '../../lib/domain/engine-player.ts';
import { EngineCallError, type EngineClient } from '../../lib/ports.ts';
import { OUTCOME_UNKNOWN_MESSAGE, type RegisterCall } from '../../lib/register-runtime/register-runtime.ts';
import { buildRegistration } from '../../lib/wiring.ts';
import { RecordingLog, RecordingTelemetry, registerBody } from '../support/harness.ts';

const TABLES = {
  RUNTIME_RECORDS_TABLE: 'records',
  ENGINE_VERSIONS_TABLE: 'versions',
  PLAYER_MAPPINGS_TABLE: 'mappings',
  OPERATION_LOG_TABLE: 'oplog',
  IDEMPOTENCY_TABLE: 'keys',
  OUTBOX_TABLE: 'outbox',
};
const config = loadConfig({ ...TABLES, EVENT_BUS_NAME: 'bus', ENGINE_ALLOWED_HOSTS: 'galaxy-game-*' });
const ENDPOINT = 'http://galaxy-game-g-1:8080';

const ddb = mockClient(DynamoDBDocumentClient);
const rawDdb = mockClient(DynamoDBClient);

/** An engine double: answers the roster, or whatever a test tells it to. */
class StubEngine implements EngineClient {
  calls = 0;
  answer: (races: readonly string[]) => Promise<EngineInitPlayer[]> = async (races) =>
    races.map((race_name, i) => ({ race_name, engine_player_uuid: `uuid-${i}`, planets: 3, population: 120.5 }));
  async init(_endpoint: string, races: readonly string[]): Promise<EngineInitPlayer[]> {
    this.calls++;
    return this.answer(races);
  }
}

let engine: StubEngine;
let telemetry: RecordingTelemetry;
let log: RecordingLog;

function build() {
  return buildRegistration(config, { dynamo: new DynamoDBClient({ region: 'us-east-1' }), engine, telemetry, log });
}

function newCall(body: unknown): RegisterCall {
  return { body: JSON.stringify(body), isBase64Encoded: false, opSource: 'lobby_internal', sourceRef: 'req-1', remainingTimeMs: () => 25_000 };
}

async function register(body: unknown) {
  const { useCase } = build();
  const outcome = await useCase.register(newCall(body));
  const answer = outcomeAnswer(outcome);
  // Every answer of the spec's failure table also conforms to the published contract.
  checkAnswer('POST', '/internal/v1/runtimes', answer);
  return { status: answer.statusCode, body: JSON.parse(answer.body) };
}

/** A promise and its resolver: a latch a test releases. */
function latch() {
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { released, release };
}

const calls = <T extends object>(command: new (...args: never[]) => T, table?: string) =>
  ddb.commandCalls(command as never).filter((c) => table === undefined || (c.args[0].input as { TableName?: string }).TableName === table);
const deletesOf = (table: string) => calls(DeleteCommand, table).map((c) => c.args[0].input);
/** The op_id the operation put on its runtime record. */
function insertedOpId(): string {
  const insert = calls(PutCommand, 'records')[0];
  if (insert === undefined) throw new Error('no runtime record was inserted');
  return (insert.args[0].input as { Item: { op_id: string } }).Item.op_id;
}
const opLogEntries = () => calls(PutCommand, 'oplog').map((c) => (c.args[0].input as { Item: Record<string, unknown> }).Item);
/** Every Put on the operation log, whether alone or inside a transaction. */
const txItems = () => calls(TransactWriteCommand).flatMap((c) => (c.args[0].input as { TransactItems: Record<string, any>[] }).TransactItems);

function cancelled(codes: string[]) {
  return new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });
}

/** Answers steps 1 and 2's BatchGetItem with these items (absent: not found). */
function reads(items: { record?: Record<string, unknown>; version?: Record<string, unknown> }) {
  ddb.on(BatchGetCommand).resolves({
    Responses: { records: items.record ? [items.record] : [], versions: items.version ? [items.version] : [] },
  });
}

/** The rollback's mapping deletes: in transactions of conditional deletes, or single deletes as the fall-back. */
function mappingDeletes(): Record<string, any>[] {
  return [...txItems().flatMap((i) => (i.Delete?.TableName === 'mappings' ? [i.Delete] : [])), ...deletesOf('mappings')];
}

/** The fence: one conditional update of the record (this operation's `starting` one), nothing else. */
const fences = () => calls(UpdateCommand, 'records').map((c) => c.args[0].input as Record<string, any>);

/**
 * The rollback of an attempted commit: the fence first (settling that the
 * commit did not land), then this operation's mappings, then the record,
 * in that order; the outbox table is never touched.
 */
function expectRolledBack(opId: string) {
  const all = ddb.calls().map((c) => c.args[0] as { constructor: { name: string }; input: Record<string, any> });
  const fenceAt = all.findIndex((c) => c.constructor.name === 'UpdateCommand' && c.input.TableName === 'records');
  expect(fences()).toEqual([
    expect.objectContaining({
      Key: { game_id: 'g-1' },
      ConditionExpression: '#status = :starting AND op_id = :op',
      ExpressionAttributeValues: expect.objectContaining({ ':op': opId, ':starting': 'starting' }),
    }),
  ]);
  const deletes = mappingDeletes();
  expect([...new Set(deletes.map((d) => d.Key.user_id as string))].sort()).toEqual(['u-001', 'u-002']);
  for (const d of deletes) expect(d).toMatchObject({ ConditionExpression: 'op_id = :op', ExpressionAttributeValues: { ':op': opId } });
  const mappingsAt = all.findIndex(
    (c, i) => i > fenceAt && (c.input.TableName === 'mappings' || c.input.TransactItems?.some((t: Record<string, any>) => t.Delete?.TableName === 'mappings')) && !('KeyConditionExpression' in c.input),
  );
  const recordAt = all.findIndex((c) => c.input.TableName === 'records' && 'Key' in c.input && c.constructor.name === 'DeleteCommand');
  expect(fenceAt).toBeGreaterThanOrEqual(0);
  expect(mappingsAt).toBeGreaterThan(fenceAt);
  expect(recordAt).toBeGreaterThan(mappingsAt);
  expectOutboxUntouched();
}

/** The registration's rollback never writes to the outbox table (it must work while that table is down). */
function expectOutboxUntouched() {
  expect(deletesOf('outbox')).toEqual([]);
  expect(txItems().filter((i) => i.Delete?.TableName === 'outbox')).toEqual([]);
}

/** A refusal of the fence by DynamoDB, with the record as it is (ALL_OLD). */
function fenceRefusedBy(item: (opId: string) => Record<string, { S: string }> | undefined) {
  ddb.on(UpdateCommand, { TableName: 'records' }).callsFake(() => {
    throw new ConditionalCheckFailedException({ message: 'refused', $metadata: {}, Item: item(insertedOpId()) });
  });
}

/** The commit's fate unknown: one metric and one warning line naming game and op; no entry, nothing undone. */
function expectOutcomeUnknown(res: { status: number; body: any }) {
  expect(res).toEqual({ status: 503, body: { error: { code: 'service_unavailable', message: OUTCOME_UNKNOWN_MESSAGE } } });
  expect(opLogEntries()).toEqual([]);
  expect(ddb.commandCalls(DeleteCommand)).toHaveLength(0);
  expect(calls(QueryCommand, 'mappings')).toHaveLength(0);
  expect(telemetry.outcomes).toEqual([{ outcome: 'failure', error_code: 'service_unavailable' }]);
  expect(log.at('warn')).toEqual([
    expect.objectContaining({ message: 'commit outcome unknown', extra: expect.objectContaining({ game_id: 'g-1', op_id: insertedOpId() }) }),
  ]);
}

function expectFailureAudited(code: string) {
  const entries = opLogEntries();
  expect(entries).toHaveLength(1);
  expect(entries[0]).toMatchObject({ outcome: 'failure', error_code: code, op_kind: 'register_runtime', op_source: 'lobby_internal', source_ref: 'req-1' });
  expect(telemetry.outcomes).toEqual([{ outcome: 'failure', error_code: code }]);
  const warn = log.at('warn');
  expect(warn).toHaveLength(1);
  expect(warn[0]?.extra).toMatchObject({ error_code: code, op_source: 'lobby_internal' });
  expect(Object.keys(warn[0]?.extra ?? {})).toEqual(expect.arrayContaining(['game_id', 'engine_version', 'op_source', 'error_code', 'error_message']));
}

afterEach(() => {
  vi.restoreAllMocks();
});

beforeEach(() => {
  ddb.reset();
  rawDdb.reset();
  engine = new StubEngine();
  telemetry = new RecordingTelemetry();
  log = new RecordingLog();
  reads({ version: { image_ref: 'img:1.4.2' } });
  ddb.on(PutCommand).resolves({});
  ddb.on(TransactWriteCommand).resolves({});
  ddb.on(QueryCommand).resolves({ Items: [] });
  ddb.on(DeleteCommand).resolves({});
  ddb.on(UpdateCommand).resolves({});
});

describe('Class: RegisterRuntime', () => {
  describe('Method: register — success', () => {
    it('costs three DynamoDB requests: record and version read together, insert, one commit transaction (with the outbox item)', async () => {
      const res = await register(registerBody('g-1', ENDPOINT));
      expect(res.status).toBe(201);
      expect(ddb.calls()).toHaveLength(3);
      const read = calls(BatchGetCommand)[0]?.args[0].input as { RequestItems: Record<string, { Keys: unknown[]; ConsistentRead?: boolean }> };
      expect(read.RequestItems.records).toMatchObject({ Keys: [{ game_id: 'g-1' }], ConsistentRead: true });
      // Both consistent: a version PUT a moment ago must be found.
      expect(read.RequestItems.versions).toMatchObject({ Keys: [{ version: '1.4.2' }], ConsistentRead: true });
      expect(calls(PutCommand, 'records')).toHaveLength(1);
      const tx = txItems();
      expect(tx.filter((i) => i.Put?.TableName === 'mappings')).toHaveLength(2);
      expect(tx.filter((i) => i.Update?.TableName === 'records')).toHaveLength(1);
      expect(tx.find((i) => i.Put?.TableName === 'oplog')?.Put.Item).toMatchObject({ outcome: 'success', error_code: '' });
      expect(telemetry.outcomes).toEqual([{ outcome: 'success', error_code: '' }]);
      // Delivery is the relay's: the register function publishes nothing itself.
      expect(telemetry.published).toEqual([]);
      expect(log.at('info')[0]?.extra).toMatchObject({ game_id: 'g-1', engine_version: '1.4.2', members: 2, op_source: 'lobby_internal' });
    });

    it('the commit puts exactly one outbox item: event_id = op_id, the Detail as the exact JSON to send (event_id first), TTL 7 days', async () => {
      const res = await register(registerBody('g-1', ENDPOINT));
      expect(res.status).toBe(201);
      const outbox = txItems().filter((i) => i.Put?.TableName === 'outbox');
      expect(outbox).toHaveLength(1);
      const item = outbox[0]?.Put.Item;
      const opId = insertedOpId();
      expect(Object.keys(item).sort()).toEqual(['created_at', 'detail', 'detail_type', 'event_id', 'expiration', 'game_id']);
      expect(item).toMatchObject({ event_id: opId, game_id: 'g-1', detail_type: 'runtime_snapshot_update' });
      expect(outbox[0]?.Put.ConditionExpression).toBe('attribute_not_exists(event_id)');
      const detail = JSON.parse(item.detail);
      expect(Object.keys(detail)).toEqual(['event_id', 'game_id', 'current_turn', 'runtime_status', 'engine_health_summary', 'occurred_at', 'player_turn_stats']);
      expect(item.detail).toBe(
        JSON.stringify({
          event_id: opId,
          game_id: 'g-1',
          current_turn: 0,
          runtime_status: 'running',
          engine_health_summary: '',
          occurred_at: detail.occurred_at,
          player_turn_stats: [
            { user_id: 'u-001', planets: 3, population: 120.5 },
            { user_id: 'u-002', planets: 3, population: 120.5 },
          ],
        }),
      );
      expect(item.expiration).toBe(Math.floor(Date.parse(item.created_at) / 1000) + 604_800);
    });

    it('once committed, nothing rolls the registration back: a throwing telemetry is logged, the answer is 201', async () => {
      telemetry.registerOutcome = () => {
        throw new Error('metrics broke');
      };
      const res = await register(registerBody('g-1', ENDPOINT));
      expect(res.status).toBe(201);
      expect(ddb.commandCalls(DeleteCommand)).toHaveLength(0);
      expect(log.at('error').map((l) => l.message)).toEqual(['reporting a registration failed']);
    });
  });

  describe('Method: register — failure table', () => {
    it('validation: invalid_request, nothing read or written but the audit entry', async () => {
      const res = await register({ ...registerBody('g-1', ENDPOINT), turn_schedule: ' ' });
      expect(res).toEqual({ status: 400, body: { error: { code: 'invalid_request', message: 'turn schedule must not be empty' } } });
      expect(calls(BatchGetCommand)).toHaveLength(0);
      expect(engine.calls).toBe(0);
      expectFailureAudited('invalid_request');
      expect(opLogEntries()[0]?.game_id).toBe('g-1');
    });

    it('validation without a usable game_id: audited under _unidentified', async () => {
      const res = await register({ game_id: 'bad id with spaces' });
      expect(res.status).toBe(400);
      expect(opLogEntries()[0]?.game_id).toBe('_unidentified');
      expectFailureAudited('invalid_request');
    });

    it('existing record: conflict, nothing inserted, nothing deleted', async () => {
      reads({ record: { game_id: 'g-1' }, version: { image_ref: 'img:1.4.2' } });
      const res = await register(registerBody('g-1', ENDPOINT));
      expect(res).toEqual({ status: 409, body: { error: { code: 'conflict', message: 'runtime record already exists' } } });
      expect(calls(PutCommand, 'records')).toHaveLength(0);
      expect(deletesOf('records')).toEqual([]);
      expectFailureAudited('conflict');
    });

    it('insert race lost: conflict, and the other caller\'s row is never touched', async () => {
      ddb.on(PutCommand, { TableName: 'records' }).rejects(new ConditionalCheckFailedException({ message: 'exists', $metadata: {} }));
      const res = await register(registerBody('g-1', ENDPOINT));
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('conflict');
      expect(ddb.commandCalls(DeleteCommand)).toHaveLength(0);
      expect(engine.calls).toBe(0);
      expectFailureAudited('conflict');
    });

    it('store error at the record and version read: service_unavailable naming the step, no raw SDK text, no rollback', async () => {
      ddb.on(BatchGetCommand).rejects(new Error('socket hang up ECONNRESET 10.0.0.1'));
      const res = await register(registerBody('g-1', ENDPOINT));
      expect(res).toEqual({
        status: 503,
        body: { error: { code: 'service_unavailable', message: 'get runtime record and engine version: store request failed' } },
      });
      expect(ddb.commandCalls(DeleteCommand)).toHaveLength(0);
      expectFailureAudited('service_unavailable');
    });

    it('store error at the insert: service_unavailable, and an insert that may have landed is removed (only if ours)', async () => {
      ddb.on(PutCommand, { TableName: 'records' }).rejects(new Error('timeout'));
      const res = await register(registerBody('g-1', ENDPOINT));
      expect(res.status).toBe(503);
      expect(res.body.error.message).toBe('insert runtime record: store request failed');
      const deletes = deletesOf('records');
      expect(deletes).toHaveLength(1);
      expect(deletes[0]).toMatchObject({ Key: { game_id: 'g-1' }, ConditionExpression: 'op_id = :op' });
      expect(engine.calls).toBe(0);
      expectFailureAudited('service_unavailable');
    });

    it('unknown engine version: engine_version_not_found, no rollback', async () => {
      reads({});
      const res = await register(registerBody('g-1', ENDPOINT));
      expect(res).toEqual({ status: 404, body: { error: { code: 'engine_version_not_found', message: 'engine version "1.4.2" not found' } } });
      expect(calls(PutCommand, 'records')).toHaveLength(0);
      expect(ddb.commandCalls(DeleteCommand)).toHaveLength(0);
      expectFailureAudited('engine_version_not_found');
    });

    it.each([
      ['engine_unreachable', 'engine init: engine answered HTTP 503'],
      ['engine_validation_error', 'engine init: engine answered HTTP 400'],
      ['engine_protocol_violation', 'engine init: engine answered a redirect'],
    ] as const)('engine call fails (%s): the runtime record is rolled back, no mappings touched', async (code, message) => {
      engine.answer = async () => {
        throw new EngineCallError(code, message);
      };
      const res = await register(registerBody('g-1', ENDPOINT));
      expect(res).toEqual({ status: 502, body: { error: { code, message } } });
      expect(deletesOf('records')).toEqual([
        expect.objectContaining({ Key: { game_id: 'g-1' }, ConditionExpression: 'op_id = :op', ExpressionAttributeValues: { ':op': insertedOpId() } }),
      ]);
      expect(calls(QueryCommand)).toHaveLength(0);
      expect(calls(TransactWriteCommand)).toHaveLength(0);
      expectFailureAudited(code);
    });

    it.each([
      ['a player short', (races: readonly string[]) => races.slice(1), 'engine player count 1 does not match roster size 2'],
      ['a foreign race', (races: readonly string[]) => [races[0] as string, 'Intruders'], 'engine returned race "Intruders" not present in roster'],
      ['a race twice', (races: readonly string[]) => [races[0] as string, races[0] as string], 'engine returned race "Race 1" twice'],
    ])('roster check fails (%s): engine_protocol_violation, record rolled back', async (_what, players, message) => {
      engine.answer = async (races) =>
        players(races).map((race_name, i) => ({ race_name, engine_player_uuid: `u${i}`, planets: 1, population: 1 }));
      const res = await register(registerBody('g-1', ENDPOINT));
      expect(res).toEqual({ status: 502, body: { error: { code: 'engine_protocol_violation', message } } });
      expect(deletesOf('records')).toHaveLength(1);
      expect(calls(TransactWriteCommand)).toHaveLength(0);
      expectFailureAudited('engine_protocol_violation');
    });

    it('engine address refused: invalid_request (400), record rolled back', async () => {
      engine.answer = async () => {
        throw new EngineCallError('engine_address_refused', 'engine init: engine address 169.254.169.254 is not allowed');
      };
      const res = await register(registerBody('g-1', ENDPOINT));
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
      expect(deletesOf('records')).toHaveLength(1);
      expectFailureAudited('invalid_request');
    });

    it.each([
      ['an existing mapping', ['ConditionalCheckFailed', 'None'], 409, 'conflict'],
      ['a store error', ['ThrottlingError'], 503, 'service_unavailable'],
    ])('mapping chunk write fails with %s: fenced, then mappings of this operation and the record are rolled back', async (_what, reasons, status, code) => {
      // 150 members: one chunk of 53 mappings goes before the commit transaction (97 + CAS + entry + outbox item).
      ddb.on(TransactWriteCommand).rejectsOnce(cancelled(reasons));
      ddb.on(QueryCommand, { TableName: 'mappings' }).resolves({ Items: [] });
      const res = await register(registerBody('g-1', ENDPOINT, { members: 150 }));
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(code);
      expect(res.body.error.message).toMatch(/^write player mappings/);
      // Only the chunk was sent, and it checks the record is still this operation's unfenced `starting` one.
      expect(calls(TransactWriteCommand)).toHaveLength(1);
      expect(txItems().at(-1)?.ConditionCheck).toMatchObject({
        TableName: 'records',
        Key: { game_id: 'g-1' },
        ConditionExpression: '#status = :starting AND op_id = :op AND attribute_not_exists(reclaim_started_at)',
      });
      expect(fences()).toHaveLength(1);
      expect(calls(QueryCommand, 'mappings')).toHaveLength(1);
      expect(calls(QueryCommand, 'mappings')[0]?.args[0].input).toMatchObject({ FilterExpression: 'op_id = :op' });
      expect(deletesOf('records')).toHaveLength(1);
      expectOutboxUntouched();
      expectFailureAudited(code);
    });

    it('CAS refused: the fence lands first, then this operation\'s mappings, then the record are rolled back; the outbox is never touched', async () => {
      ddb.on(TransactWriteCommand).rejectsOnce(cancelled(['None', 'None', 'ConditionalCheckFailed', 'None', 'None']));
      ddb.on(QueryCommand, { TableName: 'mappings' }).resolves({ Items: [{ user_id: 'u-001' }, { user_id: 'u-002' }] });
      const res = await register(registerBody('g-1', ENDPOINT));
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('conflict');
      expectRolledBack(insertedOpId());
      expectFailureAudited('conflict');
    });

    it('CAS refused by the SDK retry of its own landed commit: the fence finds it running under this op_id, 201', async () => {
      ddb.on(TransactWriteCommand).rejectsOnce(cancelled(['None', 'None', 'ConditionalCheckFailed', 'None', 'None']));
      fenceRefusedBy((opId) => ({ status: { S: 'running' }, op_id: { S: opId } }));
      const res = await register(registerBody('g-1', ENDPOINT));
      expect(res.status).toBe(201);
      expect(ddb.commandCalls(DeleteCommand)).toHaveLength(0);
      expect(opLogEntries()).toEqual([]);
      expect(telemetry.outcomes).toEqual([{ outcome: 'success', error_code: '' }]);
    });

    describe('a commit whose answer was lost is settled by the fence before anything is undone', () => {
      const lost = () => ddb.on(TransactWriteCommand).rejectsOnce(new Error('socket hang up'));

      it('fence refused by the record running under this op_id (the commit landed): 201 with the record, nothing undone, success counted once', async () => {
        lost();
        fenceRefusedBy((opId) => ({ status: { S: 'running' }, op_id: { S: opId } }));
        const res = await register(registerBody('g-1', ENDPOINT));
        expect(res.status).toBe(201);
        expect(res.body).toMatchObject({ game_id: 'g-1', status: 'running', current_turn: 0 });
        expect(fences()).toEqual([expect.objectContaining({ ReturnValuesOnConditionCheckFailure: 'ALL_OLD' })]);
        expect(calls(TransactWriteCommand)).toHaveLength(1);
        expect(ddb.commandCalls(DeleteCommand)).toHaveLength(0);
        expect(opLogEntries()).toEqual([]);
        expect(telemetry.outcomes).toEqual([{ outcome: 'success', error_code: '' }]);
        expect(log.at('warn')).toEqual([]);
        expect(log.at('info').map((l) => l.message)).toEqual(['commit answer lost, but the commit landed: registration stands', 'runtime registered']);
      });

      it('fence landed (the commit did not land and never will): 503 naming the commit, mappings and record rolled back, audited', async () => {
        lost();
        ddb.on(QueryCommand, { TableName: 'mappings' }).resolves({ Items: [{ user_id: 'u-001' }, { user_id: 'u-002' }] });
        const res = await register(registerBody('g-1', ENDPOINT));
        expect(res).toEqual({ status: 503, body: { error: { code: 'service_unavailable', message: 'commit runtime record: store request failed' } } });
        expectRolledBack(insertedOpId());
        expectFailureAudited('service_unavailable');
      });

      it.each([
        ['another operation\'s record', () => ({ status: { S: 'running' }, op_id: { S: 'someone-else' } })],
        ['gone', () => undefined],
      ])('fence refused by %s (this commit can never land): rolled back, audited', async (_what, item) => {
        lost();
        fenceRefusedBy(item);
        ddb.on(QueryCommand, { TableName: 'mappings' }).resolves({ Items: [{ user_id: 'u-001' }, { user_id: 'u-002' }] });
        const res = await register(registerBody('g-1', ENDPOINT));
        expect(res.status).toBe(503);
        expect(mappingDeletes()).toHaveLength(2);
        expectOutboxUntouched();
        expectFailureAudited('service_unavailable');
      });

      it('fence refused by TransactionConflict (the commit still executing on the item): asked again until it lands, then rolled back and audited', async () => {
        lost();
        ddb
          .on(UpdateCommand, { TableName: 'records' })
          .rejectsOnce(new TransactionConflictException({ message: 'Transaction is ongoing for the item', $metadata: {} }))
          .rejectsOnce(new TransactionConflictException({ message: 'Transaction is ongoing for the item', $metadata: {} }))
          .resolves({});
        ddb.on(QueryCommand, { TableName: 'mappings' }).resolves({ Items: [{ user_id: 'u-001' }, { user_id: 'u-002' }] });
        const res = await register(registerBody('g-1', ENDPOINT));
        expect(res).toEqual({ status: 503, body: { error: { code: 'service_unavailable', message: 'commit runtime record: store request failed' } } });
        expect(calls(UpdateCommand, 'records')).toHaveLength(3);
        expect(mappingDeletes()).toHaveLength(2);
        expect(deletesOf('records')).toHaveLength(1);
        expectFailureAudited('service_unavailable');
      });

      it('fence unanswered too (outcome unknown): 503 "commit outcome unknown", nothing more written, one failure metric, no entry', async () => {
        lost();
        ddb.on(UpdateCommand, { TableName: 'records' }).rejects(new Error('socket hang up'));
        const res = await register(registerBody('g-1', ENDPOINT));
        expectOutcomeUnknown(res);
        expect(log.at('error').map((l) => l.message)).toEqual(['fence of a commit went unanswered']);
      });
    });

    it('the idempotency key cannot be taken: service_unavailable, audited, nothing ran', async () => {
      rawDdb.on(PutItemCommand, { TableName: 'keys' }).rejects(new Error('key table down'));
      const { safeRetries } = build();
      const answer = await safeRetries.handle(
        { body: JSON.stringify(registerBody('g-1', ENDPOINT)), isBase64Encoded: false, opSource: 'lobby_internal', sourceRef: 'req-1', remainingTimeMs: () => 25_000 },
        'key-1',
      );
      expect(answer.statusCode).toBe(503);
      expect(JSON.parse(answer.body).error.code).toBe('service_unavailable');
      expect(engine.calls).toBe(0);
      expect(calls(BatchGetCommand)).toHaveLength(0);
      expect(opLogEntries()[0]).toMatchObject({ game_id: 'g-1', error_code: 'service_unavailable' });
      expect(telemetry.outcomes).toEqual([{ outcome: 'failure', error_code: 'service_unavailable' }]);
    });
  });

  describe('Defects and outer layers: every failure audited exactly once', () => {
    it('an adapter that throws a plain Error (a defect) after the insert: 500 internal_error, rolled back, audited once', async () => {
      vi.spyOn(DynamoRegistrationCommitter.prototype, 'commit').mockRejectedValueOnce(new Error('adapter bug: undefined is not a function'));
      const res = await register(registerBody('g-1', ENDPOINT));
      expect(res).toEqual({ status: 500, body: { error: { code: 'internal_error', message: 'internal error' } } });
      // The record this operation inserted is deleted (only if still ours).
      expect(deletesOf('records')).toEqual([
        expect.objectContaining({ Key: { game_id: 'g-1' }, ExpressionAttributeValues: expect.objectContaining({ ':op': insertedOpId() }) }),
      ]);
      expect(log.at('error').map((l) => l.message)).toEqual(['register runtime defect']);
      expectFailureAudited('internal_error');
      expect(opLogEntries()[0]).toMatchObject({ op_id: insertedOpId(), error_message: 'internal error' });
    });

    it('abandoned while running (the deadline guard answered): audited at once under its op_id, then it only rolls back', async () => {
      // Prepare: the engine holds the operation after its insert.
      const engineHeld = latch();
      let arrived = () => {};
      const atEngine = new Promise<void>((resolve) => {
        arrived = resolve;
      });
      const healthy = engine.answer;
      engine.answer = async (races) => {
        arrived();
        await engineHeld.released;
        return healthy(races);
      };
      const { useCase } = build();
      const call = newCall(registerBody('g-1', ENDPOINT));
      const running = useCase.register(call);
      await atEngine;

      // Act
      const abandoned = await useCase.abandon(call, 'service_unavailable', 'register runtime: did not finish before the function deadline');
      const auditedAtOnce = opLogEntries();
      engineHeld.release();
      const outcome = await running;

      // Assess
      expect(abandoned).toMatchObject({ ok: false, code: 'service_unavailable' });
      expect(auditedAtOnce).toEqual([expect.objectContaining({ op_id: insertedOpId(), outcome: 'failure', error_code: 'service_unavailable' })]);
      expect(outcome).toMatchObject({ ok: false, code: 'service_unavailable' });
      // Nothing more was written after the abandon: no commit; the record rolled back.
      expect(calls(TransactWriteCommand)).toEqual([]);
      expect(deletesOf('records')).toEqual([expect.objectContaining({ Key: { game_id: 'g-1' } })]);
      expectFailureAudited('service_unavailable');
    });

    it('abandoned after it answered its own failure (a defect reaching onError too): the same answer, nothing audited twice', async () => {
      const { useCase } = build();
      const call = newCall({ game_id: 'g-1' });
      const own = await useCase.register(call);
      const again = await useCase.abandon(call, 'internal_error', 'internal error');
      expect(own).toMatchObject({ ok: false, code: 'invalid_request' });
      expect(again).toEqual(own);
      expectFailureAudited('invalid_request');
    });

    describe('the deadline guard fires once a commit was sent: it answers only what is settled', () => {
      /** A request held until `held` is released (`sent` resolves when it arrives), then answered by `settle`. */
      function heldRequest(settle: () => unknown) {
        const held = latch();
        const sent = latch();
        const fake = async () => {
          sent.release();
          await held.released;
          return settle();
        };
        return { held, sent, fake };
      }
      /** Holds the commit transaction; once released it lands, or its answer is lost. */
      function holdCommit(answer: 'lands' | 'lost') {
        const request = heldRequest(() => {
          if (answer === 'lost') throw new Error('socket hang up');
          return {};
        });
        ddb.on(TransactWriteCommand).callsFakeOnce(request.fake);
        return request;
      }
      /** Holds every fence (the record's UpdateItem); once released it lands. */
      function holdFence() {
        const request = heldRequest(() => ({}));
        ddb.on(UpdateCommand, { TableName: 'records' }).callsFake(request.fake);
        return request;
      }
      const guard = (useCase: ReturnType<typeof build>['useCase'], call: RegisterCall) =>
        useCase.abandon(call, 'service_unavailable', 'register runtime: did not finish before the function deadline');
      /**
       * Runs a registration; once it `reached` the held request, the guard
       * answers for it; then `held` is released and the operation finishes.
       * Both answers, and the entries written by the time the guard answered.
       */
      async function guardWhileHeld(reached: Promise<void>, held: { release(): void }) {
        const { useCase } = build();
        const call = newCall(registerBody('g-1', ENDPOINT));
        const running = useCase.register(call);
        await reached;
        const guarded = await guard(useCase, call);
        const auditedByGuard = opLogEntries();
        held.release();
        return { guarded, auditedByGuard, own: await running };
      }

      it('during the commit, which landed: the fence is refused by the running record, both layers answer 201, success counted once', async () => {
        const { held, sent } = holdCommit('lands');
        fenceRefusedBy((opId) => ({ status: { S: 'running' }, op_id: { S: opId } }));
        const { guarded, own } = await guardWhileHeld(sent.released, held);
        expect(guarded).toMatchObject({ ok: true, record: { game_id: 'g-1', status: 'running' } });
        expect(own).toEqual(guarded);
        expect(ddb.commandCalls(DeleteCommand)).toHaveLength(0);
        expect(opLogEntries()).toEqual([]);
        expect(telemetry.outcomes).toEqual([{ outcome: 'success', error_code: '' }]);
      });

      it('during the commit, whose answer is then lost: the guard\'s fence lands, both answer the failure, rolled back and audited once', async () => {
        const { held, sent } = holdCommit('lost');
        ddb.on(QueryCommand, { TableName: 'mappings' }).resolves({ Items: [{ user_id: 'u-001' }, { user_id: 'u-002' }] });
        const { guarded, auditedByGuard, own } = await guardWhileHeld(sent.released, held);
        expect(guarded).toEqual({ ok: false, code: 'service_unavailable', message: 'register runtime: did not finish before the function deadline' });
        expect(own).toEqual(guarded);
        expect(auditedByGuard).toHaveLength(1);
        // One fence for both layers, then the rollback by the operation.
        expectRolledBack(insertedOpId());
        expectFailureAudited('service_unavailable');
      });

      it('during the commit, and the fence goes unanswered: 503 "commit outcome unknown" from both, nothing undone, no entry, one metric', async () => {
        const { held, sent } = holdCommit('lost');
        ddb.on(UpdateCommand, { TableName: 'records' }).rejects(new Error('socket hang up'));
        const { guarded, own } = await guardWhileHeld(sent.released, held);
        expect(guarded).toEqual({ ok: false, code: 'service_unavailable', message: OUTCOME_UNKNOWN_MESSAGE });
        expect(own).toEqual(guarded);
        expect(fences()).toHaveLength(1);
        expectOutcomeUnknown({ status: 503, body: { error: { code: 'service_unavailable', message: OUTCOME_UNKNOWN_MESSAGE } } });
      });

      it('during the fence (the operation\'s own), which then lands: the guard waits for that same verdict; one fence, one failure', async () => {
        ddb.on(TransactWriteCommand).rejectsOnce(new Error('socket hang up'));
        const { held: fenceHeld, sent: fenceSent } = holdFence();
        ddb.on(QueryCommand, { TableName: 'mappings' }).resolves({ Items: [{ user_id: 'u-001' }, { user_id: 'u-002' }] });
        const { useCase } = build();
        const call = newCall(registerBody('g-1', ENDPOINT));
        const running = useCase.register(call);
        await fenceSent.released;
        const guarded = guard(useCase, call);
        fenceHeld.release();
        const [byGuard, own] = await Promise.all([guarded, running]);
        expect(fences()).toHaveLength(1);
        expect(byGuard).toMatchObject({ ok: false, code: 'service_unavailable' });
        expect(own).toEqual(byGuard);
        expectRolledBack(insertedOpId());
        expectFailureAudited('service_unavailable');
      });

      it('during the fence, which never answers within the guard\'s budget: 503 "commit outcome unknown"; the late verdict writes nothing', async () => {
        ddb.on(TransactWriteCommand).rejectsOnce(new Error('socket hang up'));
        const { held: fenceHeld, sent: fenceSent } = holdFence();
        const { useCase } = build();
        let left = 25_000;
        const call = { ...newCall(registerBody('g-1', ENDPOINT)), remainingTimeMs: () => left };
        const running = useCase.register(call);
        await fenceSent.released;
        // The guard's moment: its budget is all but spent.
        left = 201;
        const guarded = await guard(useCase, call);
        // The fence lands late: the answer stands, the operation writes nothing more.
        fenceHeld.release();
        const own = await running;
        expect(guarded).toEqual({ ok: false, code: 'service_unavailable', message: OUTCOME_UNKNOWN_MESSAGE });
        expect(own).toEqual(guarded);
        expectOutcomeUnknown({ status: 503, body: { error: { code: 'service_unavailable', message: OUTCOME_UNKNOWN_MESSAGE } } });
      });

      it('during the rollback (the failure already decided): the same failure, audited once by whoever comes first', async () => {
        ddb.on(TransactWriteCommand).rejectsOnce(cancelled(['None', 'None', 'ConditionalCheckFailed', 'None', 'None']));
        const query = heldRequest(() => ({ Items: [{ user_id: 'u-001' }, { user_id: 'u-002' }] }));
        ddb.on(QueryCommand, { TableName: 'mappings' }).callsFake(query.fake);
        const { guarded, auditedByGuard, own } = await guardWhileHeld(query.sent.released, query.held);
        expect(guarded).toMatchObject({ ok: false, code: 'conflict' });
        expect(own).toEqual(guarded);
        expect(auditedByGuard).toEqual([expect.objectContaining({ error_code: 'conflict' })]);
        expectRolledBack(insertedOpId());
        expectFailureAudited('conflict');
      });
    });

    it('abandoned before it started: audited as its own operation, and it never runs afterwards', async () => {
      const { useCase } = build();
      const call = newCall(registerBody('g-1', ENDPOINT));
      await useCase.abandon(call, 'service_unavailable', 'register runtime: did not finish before the function deadline');
      const late = await useCase.register(call);
      expect(late).toMatchObject({ ok: false, code: 'service_unavailable' });
      expect(engine.calls).toBe(0);
      expect(calls(GetCommand)).toEqual([]);
      expectFailureAudited('service_unavailable');
      expect(opLogEntries()[0]).toMatchObject({ game_id: 'g-1', error_message: 'register runtime: did not finish before the function deadline' });
    });
  });

  describe('Method: reject', () => {
    it('after the deadline guard answered for the call (while its key was being taken): the same answer, audited once', async () => {
      const { useCase } = build();
      const call = newCall(registerBody('g-1', ENDPOINT));
      const guarded = await useCase.abandon(call, 'service_unavailable', 'register runtime: did not finish before the function deadline');
      const keyFailure = await useCase.reject(call, 'service_unavailable', 'idempotency: the key could not be taken');
      expect(keyFailure).toEqual(guarded);
      expectFailureAudited('service_unavailable');
    });
  });

  describe('Method: register — clean-up failures', () => {
    it('a rollback failure is logged at error and never replaces the original code', async () => {
      engine.answer = async () => {
        throw new EngineCallError('engine_unreachable', 'engine init: connection failed');
      };
      ddb.on(DeleteCommand).rejects(new Error('delete failed'));
      const res = await register(registerBody('g-1', ENDPOINT));
      expect(res.body.error.code).toBe('engine_unreachable');
      expect(log.at('error').map((l) => l.message)).toEqual(['rollback runtime record failed']);
      expectFailureAudited('engine_unreachable');
    });

    it('a failed mapping rollback keeps the (fenced) record, so the reconciler can find and finish it', async () => {
      ddb.on(TransactWriteCommand).rejectsOnce(cancelled(['None', 'None', 'ConditionalCheckFailed', 'None', 'None']));
      ddb.on(QueryCommand, { TableName: 'mappings' }).rejects(new Error('query failed'));
      const res = await register(registerBody('g-1', ENDPOINT));
      expect(res.body.error.code).toBe('conflict');
      expect(deletesOf('records')).toEqual([]);
      expect(log.at('error').map((l) => l.message)).toEqual(['rollback player mappings failed; left for the reconciler']);
    });

    it('a failed audit write is logged and the answer stands', async () => {
      reads({});
      ddb.on(PutCommand, { TableName: 'oplog' }).rejects(new Error('oplog down'));
      const res = await register(registerBody('g-1', ENDPOINT));
      expect(res.status).toBe(404);
      expect(log.at('error').map((l) => l.message)).toEqual(['append operation log failed']);
      expect(telemetry.outcomes).toEqual([{ outcome: 'failure', error_code: 'engine_version_not_found' }]);
    });
  });
});
