/**
 * The failure table of the spec, row by row, with the DynamoDB and
 * EventBridge SDKs mocked (aws-sdk-client-mock): each test forces one
 * failure and asserts the answer, what was rolled back, the operation-log
 * entry and the outcome metric.
 */
import { ConditionalCheckFailedException, DynamoDBClient, PutItemCommand, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.ts';
import { outcomeAnswer } from '../../lib/http/responses.ts';
import { checkAnswer } from '../support/contract.ts';
import type { EngineInitPlayer } from '../../lib/domain/engine-player.ts';
import { EngineCallError, type EngineClient } from '../../lib/ports.ts';
import { buildRegistration } from '../../lib/wiring.ts';
import { RecordingLog, RecordingTelemetry, registerBody } from '../support/harness.ts';

const TABLES = {
  RUNTIME_RECORDS_TABLE: 'records',
  ENGINE_VERSIONS_TABLE: 'versions',
  PLAYER_MAPPINGS_TABLE: 'mappings',
  OPERATION_LOG_TABLE: 'oplog',
  IDEMPOTENCY_TABLE: 'keys',
};
const config = loadConfig({ ...TABLES, EVENT_BUS_NAME: 'bus', ENGINE_ALLOWED_HOSTS: 'galaxy-game-*' });
const ENDPOINT = 'http://galaxy-game-g-1:8080';

const ddb = mockClient(DynamoDBDocumentClient);
const rawDdb = mockClient(DynamoDBClient);
const events = mockClient(EventBridgeClient);

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

async function register(body: unknown) {
  const { useCase } = build();
  const outcome = await useCase.register({
    body: JSON.stringify(body),
    isBase64Encoded: false,
    opSource: 'lobby_internal',
    sourceRef: 'req-1',
    remainingTimeMs: () => 25_000,
  });
  const answer = outcomeAnswer(outcome);
  // Every answer of the spec's failure table also conforms to the published contract.
  checkAnswer('POST', '/internal/v1/runtimes', answer);
  return { status: answer.statusCode, body: JSON.parse(answer.body) };
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

beforeEach(() => {
  ddb.reset();
  rawDdb.reset();
  events.reset();
  engine = new StubEngine();
  telemetry = new RecordingTelemetry();
  log = new RecordingLog();
  ddb.on(GetCommand, { TableName: 'records' }).resolves({});
  ddb.on(GetCommand, { TableName: 'versions' }).resolves({ Item: { image_ref: 'img:1.4.2' } });
  ddb.on(PutCommand).resolves({});
  ddb.on(TransactWriteCommand).resolves({});
  ddb.on(QueryCommand).resolves({ Items: [] });
  ddb.on(DeleteCommand).resolves({});
  events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
});

describe('Class: RegisterRuntime', () => {
  describe('Method: register — success', () => {
    it('costs four DynamoDB requests: record read, version read, insert, one commit transaction', async () => {
      const res = await register(registerBody('g-1', ENDPOINT));
      expect(res.status).toBe(201);
      expect(ddb.calls()).toHaveLength(4);
      expect(calls(GetCommand)).toHaveLength(2);
      expect(calls(PutCommand, 'records')).toHaveLength(1);
      const tx = txItems();
      expect(tx.filter((i) => i.Put?.TableName === 'mappings')).toHaveLength(2);
      expect(tx.filter((i) => i.Update?.TableName === 'records')).toHaveLength(1);
      expect(tx.find((i) => i.Put?.TableName === 'oplog')?.Put.Item).toMatchObject({ outcome: 'success', error_code: '' });
      expect(telemetry.outcomes).toEqual([{ outcome: 'success', error_code: '' }]);
      expect(telemetry.published).toEqual(['runtime_snapshot_update']);
      expect(log.at('info')[0]?.extra).toMatchObject({ game_id: 'g-1', engine_version: '1.4.2', members: 2, op_source: 'lobby_internal' });
    });

    it('a failed publication (FailedEntryCount 1) is logged at error, never fails the registration, no published metric', async () => {
      events.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'x' }] });
      const res = await register(registerBody('g-1', ENDPOINT));
      expect(res.status).toBe(201);
      expect(telemetry.published).toEqual([]);
      expect(telemetry.outcomes).toEqual([{ outcome: 'success', error_code: '' }]);
      expect(log.at('error').map((l) => l.message)).toEqual(['publish runtime snapshot update failed']);
      expect(deletesOf('records')).toEqual([]);
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
      expect(calls(GetCommand)).toHaveLength(0);
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
      ddb.on(GetCommand, { TableName: 'records' }).resolves({ Item: { game_id: 'g-1' } });
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

    it.each([
      ['runtime record read', 'records', 'get runtime record: store request failed'],
      ['engine version read', 'versions', 'get engine version: store request failed'],
    ])('store error at the %s: service_unavailable naming the step, no raw SDK text, no rollback', async (_what, table, message) => {
      ddb.on(GetCommand, { TableName: table }).rejects(new Error('socket hang up ECONNRESET 10.0.0.1'));
      const res = await register(registerBody('g-1', ENDPOINT));
      expect(res).toEqual({ status: 503, body: { error: { code: 'service_unavailable', message } } });
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
      ddb.on(GetCommand, { TableName: 'versions' }).resolves({});
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
    ])('mapping chunk write fails with %s: mappings of this operation and the record are rolled back', async (_what, reasons, status, code) => {
      // 150 members: one chunk of 52 mappings goes before the commit transaction.
      ddb.on(TransactWriteCommand).rejectsOnce(cancelled(reasons));
      ddb.on(QueryCommand, { TableName: 'mappings' }).resolves({ Items: [] });
      const res = await register(registerBody('g-1', ENDPOINT, { members: 150 }));
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(code);
      expect(res.body.error.message).toMatch(/^write player mappings/);
      expect(calls(TransactWriteCommand)).toHaveLength(1);
      expect(calls(QueryCommand, 'mappings')).toHaveLength(1);
      expect(calls(QueryCommand, 'mappings')[0]?.args[0].input).toMatchObject({ FilterExpression: 'op_id = :op' });
      expect(deletesOf('records')).toHaveLength(1);
      expectFailureAudited(code);
    });

    it.each([
      ['CAS lost', ['None', 'None', 'ConditionalCheckFailed', 'None'], 409, 'conflict'],
      ['store error at commit', ['None', 'TransactionConflict', 'None', 'None'], 503, 'service_unavailable'],
    ])('%s: this operation\'s mappings, then the record, are rolled back', async (_what, reasons, status, code) => {
      ddb.on(TransactWriteCommand).rejects(cancelled(reasons));
      ddb.on(QueryCommand, { TableName: 'mappings' }).resolves({ Items: [{ user_id: 'u-001' }, { user_id: 'u-002' }] });
      const res = await register(registerBody('g-1', ENDPOINT));
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(code);
      const opId = insertedOpId();
      const mappingDeletes = deletesOf('mappings');
      expect(mappingDeletes.map((d) => (d as { Key: { user_id: string } }).Key.user_id).sort()).toEqual(['u-001', 'u-002']);
      for (const d of mappingDeletes) expect(d).toMatchObject({ ConditionExpression: 'op_id = :op', ExpressionAttributeValues: { ':op': opId } });
      expect(deletesOf('records')).toHaveLength(1);
      // mappings go before the record
      const order = ddb.commandCalls(DeleteCommand).map((c) => c.args[0].input.TableName);
      expect(order.at(-1)).toBe('records');
      expectFailureAudited(code);
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
      expect(calls(GetCommand)).toHaveLength(0);
      expect(opLogEntries()[0]).toMatchObject({ game_id: 'g-1', error_code: 'service_unavailable' });
      expect(telemetry.outcomes).toEqual([{ outcome: 'failure', error_code: 'service_unavailable' }]);
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

    it('a failed mapping rollback keeps the record, so the reconciler can find and finish it', async () => {
      ddb.on(TransactWriteCommand).rejects(cancelled(['None', 'None', 'ConditionalCheckFailed', 'None']));
      ddb.on(QueryCommand, { TableName: 'mappings' }).rejects(new Error('query failed'));
      const res = await register(registerBody('g-1', ENDPOINT));
      expect(res.body.error.code).toBe('conflict');
      expect(deletesOf('records')).toEqual([]);
      expect(log.at('error').map((l) => l.message)).toEqual(['rollback player mappings failed; left for the reconciler']);
    });

    it('a failed audit write is logged and the answer stands', async () => {
      ddb.on(GetCommand, { TableName: 'versions' }).resolves({});
      ddb.on(PutCommand, { TableName: 'oplog' }).rejects(new Error('oplog down'));
      const res = await register(registerBody('g-1', ENDPOINT));
      expect(res.status).toBe(404);
      expect(log.at('error').map((l) => l.message)).toEqual(['append operation log failed']);
      expect(telemetry.outcomes).toEqual([{ outcome: 'failure', error_code: 'engine_version_not_found' }]);
    });
  });
});
