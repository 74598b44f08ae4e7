/**
 * The outbox relay with its SDKs mocked (aws-sdk-client-mock): the
 * EventBridge sender, the outbox reader, the Detail as stored in the outbox,
 * and the publishSnapshots handler's partial batch response for every way a
 * record can fail. The same relay on DynamoDB Local's real stream is in
 * test/integration/eventbridge-publisher.test.ts.
 */
import 'aws-sdk-client-mock-vitest/extend';
import { EventBridgeClient, EventBridgeServiceException, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventBridgeEventSender, EventSendError } from '../../lib/adapters/eventbridge-publisher.ts';
import { DynamoOutboxReader } from '../../lib/adapters/outbox-reader.ts';
import { type OutboxEvent, outboxEvent, type RuntimeSnapshotUpdate, snapshotDetailJson } from '../../lib/domain/snapshot-event.ts';
import { captureEmf } from '../support/emf.ts';
import { lambdaContext } from '../support/harness.ts';

const BUS = 'galaxy-test-bus';
const OUTBOX = 'outbox';

/** The spec's example event, as Lobby receives it (event_id first). */
const SPEC_DETAIL =
  '{"event_id":"2026-11-24T10:00:00.000Z#6f1c","game_id":"g-7f3a","current_turn":0,"runtime_status":"running",' +
  '"engine_health_summary":"","occurred_at":"2026-11-24T10:00:00.000Z",' +
  '"player_turn_stats":[{"user_id":"u-1","planets":3,"population":120.5}]}';

function specUpdate(): RuntimeSnapshotUpdate {
  return {
    game_id: 'g-7f3a',
    current_turn: 0,
    runtime_status: 'running',
    engine_health_summary: '',
    occurred_at: '2026-11-24T10:00:00.000Z',
    player_turn_stats: [{ user_id: 'u-1', planets: 3, population: 120.5 }],
  };
}

const eventBridge = mockClient(EventBridgeClient);
const doc = mockClient(DynamoDBDocumentClient);

beforeEach(() => {
  eventBridge.reset();
  doc.reset();
});

describe('Function: snapshotDetailJson / outboxEvent', () => {
  it('serialises the spec example byte for byte, event_id first', () => {
    expect(snapshotDetailJson('2026-11-24T10:00:00.000Z#6f1c', specUpdate())).toBe(SPEC_DETAIL);
  });

  it('keeps contract order and drops extra keys, whatever the update carries', () => {
    const shuffled = {
      player_turn_stats: [{ population: 120.5, extra: true, planets: 3, user_id: 'u-1' }],
      occurred_at: '2026-11-24T10:00:00.000Z',
      internal: 'not for lobby',
      engine_health_summary: '',
      runtime_status: 'running',
      current_turn: 0,
      game_id: 'g-7f3a',
    } as unknown as RuntimeSnapshotUpdate;
    expect(snapshotDetailJson('2026-11-24T10:00:00.000Z#6f1c', shuffled)).toBe(SPEC_DETAIL);
  });

  it('builds the outbox item: key = op_id, TTL = created_at + ttl seconds', () => {
    const item = outboxEvent('2026-11-24T10:00:00.000Z#6f1c', specUpdate(), new Date('2026-11-24T10:00:01.500Z'), 604_800);
    expect(item).toEqual({
      event_id: '2026-11-24T10:00:00.000Z#6f1c',
      game_id: 'g-7f3a',
      detail_type: 'runtime_snapshot_update',
      detail: SPEC_DETAIL,
      created_at: '2026-11-24T10:00:01.500Z',
      expiration: Date.parse('2026-11-24T10:00:01.000Z') / 1000 + 604_800,
    });
  });
});

describe('Class: EventBridgeEventSender', () => {
  const sender = new EventBridgeEventSender(new EventBridgeClient({ region: 'us-east-1' }), BUS);
  const event = { detail_type: 'runtime_snapshot_update' as const, detail: SPEC_DETAIL };

  it('sends the stored Detail byte for byte, with the contract source and detail-type, on the bus', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
    expect(await sender.send([event])).toEqual([undefined]);
    expect(eventBridge).toReceiveCommandExactlyOnceWith(PutEventsCommand, {
      Entries: [{ EventBusName: BUS, Source: 'galaxy.gamemaster', DetailType: 'runtime_snapshot_update', Detail: SPEC_DETAIL }],
    });
  });

  it('answers each entry: a refused one (ErrorCode, in a 200 answer) is a refusal, the others accepted', async () => {
    eventBridge.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ EventId: 'e-1' }, { ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' }, { EventId: 'e-3' }],
    });
    expect(await sender.send([event, event, event])).toEqual([undefined, { errorCode: 'ThrottlingException', errorMessage: 'slow down' }, undefined]);
  });

  it('an entry missing from the answer, or without an EventId, is not taken as delivered', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{}] });
    expect(await sender.send([event, event])).toEqual([
      { errorCode: 'MissingEntry', errorMessage: 'no result for the entry' },
      { errorCode: 'MissingEntry', errorMessage: 'no result for the entry' },
    ]);
  });

  it('a failed request rejects with our words, the SDK error kept as cause', async () => {
    const sdkError = new EventBridgeServiceException({ name: 'InternalException', $fault: 'server', $metadata: {}, message: 'ECONNRESET 10.0.0.1' });
    eventBridge.on(PutEventsCommand).rejects(sdkError);
    const err = await sender.send([event]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EventSendError);
    expect((err as Error).message).toBe('put events: request failed');
    expect((err as Error).cause).toBe(sdkError);
  });

  it('refuses more than 10 entries (the PutEvents limit) without calling', async () => {
    await expect(sender.send(Array.from({ length: 11 }, () => event))).rejects.toThrow(RangeError);
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(0);
  });
});

describe('Class: DynamoOutboxReader', () => {
  // The pause between rounds does not wait here (no sleeps in tests).
  const reader = new DynamoOutboxReader(DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })), OUTBOX, async () => undefined);
  const item = (id: string) => ({ event_id: id, game_id: 'g', detail_type: 'runtime_snapshot_update', detail: '{}', created_at: '2026-11-24T10:00:00.000Z', expiration: 1 });

  it('one consistent BatchGetItem; absent keys are neither found nor unread (gone)', async () => {
    doc.on(BatchGetCommand).resolves({ Responses: { [OUTBOX]: [item('a')] } });
    const res = await reader.read(['a', 'b']);
    expect([...res.found.keys()]).toEqual(['a']);
    expect(res.unread).toEqual(new Set());
    expect(doc).toReceiveCommandExactlyOnceWith(BatchGetCommand, {
      RequestItems: { [OUTBOX]: { Keys: [{ event_id: 'a' }, { event_id: 'b' }], ConsistentRead: true } },
    });
  });

  it('asks unprocessed keys again, and reports the ones still unread after its rounds', async () => {
    doc
      .on(BatchGetCommand)
      .resolvesOnce({ Responses: { [OUTBOX]: [item('a')] }, UnprocessedKeys: { [OUTBOX]: { Keys: [{ event_id: 'b' }, { event_id: 'c' }] } } })
      .resolvesOnce({ Responses: { [OUTBOX]: [item('b')] }, UnprocessedKeys: { [OUTBOX]: { Keys: [{ event_id: 'c' }] } } })
      .resolves({ Responses: { [OUTBOX]: [] }, UnprocessedKeys: { [OUTBOX]: { Keys: [{ event_id: 'c' }] } } });
    const res = await reader.read(['a', 'b', 'c']);
    expect([...res.found.keys()].sort()).toEqual(['a', 'b']);
    expect(res.unread).toEqual(new Set(['c']));
    expect(doc.commandCalls(BatchGetCommand).map((c) => c.args[0].input.RequestItems?.[OUTBOX]?.Keys)).toEqual([
      [{ event_id: 'a' }, { event_id: 'b' }, { event_id: 'c' }],
      [{ event_id: 'b' }, { event_id: 'c' }],
      [{ event_id: 'c' }],
    ]);
  });

  it('a failed read rejects as the store being unavailable', async () => {
    doc.on(BatchGetCommand).rejects(new Error('socket hang up'));
    await expect(reader.read(['a'])).rejects.toThrow('read outbox items: store request failed');
  });
});

describe('Function: publishSnapshots handler (partial batch response)', () => {
  type Handler = (event: DynamoDBStreamEvent, context: ReturnType<typeof lambdaContext>) => Promise<DynamoDBBatchResponse>;
  let handler: Handler;
  const saved = { ...process.env };

  beforeAll(async () => {
    Object.assign(process.env, {
      RUNTIME_RECORDS_TABLE: 'records',
      ENGINE_VERSIONS_TABLE: 'versions',
      PLAYER_MAPPINGS_TABLE: 'mappings',
      OPERATION_LOG_TABLE: 'oplog',
      IDEMPOTENCY_TABLE: 'keys',
      OUTBOX_TABLE: OUTBOX,
      EVENT_BUS_NAME: BUS,
      AWS_REGION: 'us-east-1',
    });
    // A cold start: configuration and clients are read at import.
    vi.resetModules();
    ({ handler } = (await import('../../functions/publish-snapshots/handler.ts')) as unknown as { handler: Handler });
  });

  afterAll(() => {
    process.env = saved;
  });

  const created = new Date(Date.now() - 1500).toISOString();
  const stored = (n: number): OutboxEvent => ({
    event_id: `op-${n}`,
    game_id: `g-${n}`,
    detail_type: 'runtime_snapshot_update',
    detail: snapshotDetailJson(`op-${n}`, { ...specUpdate(), game_id: `g-${n}` }),
    created_at: created,
    expiration: 1,
  });
  const record = (n: number, eventName: DynamoDBRecord['eventName'] = 'INSERT'): DynamoDBRecord => ({
    eventID: `e-${n}`,
    eventName,
    eventSource: 'aws:dynamodb',
    eventVersion: '1.1',
    awsRegion: 'us-east-1',
    eventSourceARN: 'arn:aws:dynamodb:us-east-1:000000000000:table/outbox/stream/2026-11-24T00:00:00.000',
    dynamodb: { Keys: { event_id: { S: `op-${n}` } }, SequenceNumber: String(1000 + n), StreamViewType: 'NEW_IMAGE' },
  });
  const invoke = (records: DynamoDBRecord[]) => handler({ Records: records }, lambdaContext(30_000, 'game-master-test-publishSnapshots'));
  /** The outbox holds items 0..n-1 (or the given ones). */
  function outboxHolds(ns: number[]) {
    doc.on(BatchGetCommand).resolves({ Responses: { [OUTBOX]: ns.map(stored) } });
  }
  const sentDetails = () => eventBridge.commandCalls(PutEventsCommand).map((c) => (c.args[0].input.Entries ?? []).map((e: PutEventsRequestEntry) => e.Detail));
  const failures = (...ns: number[]) => ({ batchItemFailures: ns.map((n) => ({ itemIdentifier: String(1000 + n) })) });

  it('delivers every insert: one request, Details byte for byte, no failures, both metrics once per entry with their own dimensions', async () => {
    outboxHolds([0, 1, 2]);
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'a' }, { EventId: 'b' }, { EventId: 'c' }] });
    const emf = captureEmf();

    const res = await invoke([record(0), record(1), record(2)]).finally(() => emf.restore());

    expect(res).toEqual({ batchItemFailures: [] });
    expect(sentDetails()).toEqual([[stored(0).detail, stored(1).detail, stored(2).detail]]);
    expect(doc.commandCalls(BatchGetCommand)).toHaveLength(1);
    const metrics = emf.metrics();
    expect(metrics.filter((m) => m.name === 'lobby_events_published')).toHaveLength(3);
    const lags = metrics.filter((m) => m.name === 'lobby_event_delivery_lag');
    expect(lags).toHaveLength(3);
    for (const m of metrics) {
      expect(m.dimensionSets).toEqual([['service', 'event_type']]);
      expect(m.dimensions.event_type).toBe('runtime_snapshot_update');
    }
    for (const lag of lags) {
      expect(lag.unit).toBe('Milliseconds');
      expect(lag.value).toEqual(expect.any(Number));
      expect(Number(lag.value)).toBeGreaterThanOrEqual(1500);
    }
  });

  it('an entry EventBridge refused fails its record only; the others are delivered and counted', async () => {
    outboxHolds([0, 1, 2]);
    eventBridge.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ EventId: 'a' }, { ErrorCode: 'InternalFailure', ErrorMessage: 'x' }, { EventId: 'c' }],
    });
    const emf = captureEmf();

    const res = await invoke([record(0), record(1), record(2)]).finally(() => emf.restore());

    expect(res).toEqual(failures(1));
    expect(emf.metrics().filter((m) => m.name === 'lobby_events_published')).toHaveLength(2);
  });

  it('12 inserts go in two requests (10 + 2); a failed second request fails exactly its 2 records', async () => {
    const ns = Array.from({ length: 12 }, (_, i) => i);
    outboxHolds(ns);
    eventBridge
      .on(PutEventsCommand)
      .resolvesOnce({ FailedEntryCount: 0, Entries: ns.slice(0, 10).map((n) => ({ EventId: `e-${n}` })) })
      .rejects(new Error('socket hang up'));

    const res = await invoke(ns.map((n) => record(n)));

    expect(res).toEqual(failures(10, 11));
    expect(sentDetails().map((d) => d.length)).toEqual([10, 2]);
  });

  it('every request fails: every record is reported (a partial batch response, not a function error)', async () => {
    outboxHolds([0, 1]);
    eventBridge.on(PutEventsCommand).rejects(new Error('down'));
    expect(await invoke([record(0), record(1)])).toEqual(failures(0, 1));
  });

  it('non-insert records are skipped, not failed, and never read or sent', async () => {
    const res = await invoke([record(0, 'MODIFY'), record(1, 'REMOVE')]);
    expect(res).toEqual({ batchItemFailures: [] });
    expect(doc.commandCalls(BatchGetCommand)).toHaveLength(0);
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(0);
  });

  it('a record whose outbox item is gone (expired, or deleted by hand) is skipped, not failed, not sent', async () => {
    outboxHolds([0]);
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'a' }] });
    const res = await invoke([record(0), record(1)]);
    expect(res).toEqual({ batchItemFailures: [] });
    expect(sentDetails()).toEqual([[stored(0).detail]]);
  });

  it('an item it cannot read fails its record: the whole read failing fails every insert, nothing sent', async () => {
    doc.on(BatchGetCommand).rejects(new Error('throttled'));
    const res = await invoke([record(0), record(1), record(2, 'REMOVE')]);
    expect(res).toEqual(failures(0, 1));
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(0);
  });

  it('an item left unprocessed after the reader\'s rounds fails its record; the others are sent', async () => {
    doc.on(BatchGetCommand).resolves({ Responses: { [OUTBOX]: [stored(0)] }, UnprocessedKeys: { [OUTBOX]: { Keys: [{ event_id: 'op-1' }] } } });
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'a' }] });
    const res = await invoke([record(0), record(1)]);
    expect(res).toEqual(failures(1));
    expect(sentDetails()).toEqual([[stored(0).detail]]);
  });

  it('an outbox item not shaped as the commit writes it is a batch item failure for its record only; it is never sent', async () => {
    doc.on(BatchGetCommand).resolves({ Responses: { [OUTBOX]: [stored(0), { ...stored(1), detail: '["not an object"]' }, { ...stored(2), created_at: undefined }] } });
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'a' }] });
    const res = await invoke([record(0), record(1), record(2)]);
    expect(res).toEqual(failures(1, 2));
    expect(sentDetails()).toEqual([[stored(0).detail]]);
  });

  it('ten snapshots too large for one request go out in several, each within 256 KiB; one entry over 256 KiB fails its record only', async () => {
    const big = (n: number, members: number): OutboxEvent => {
      const update = { ...specUpdate(), game_id: `g-${n}`, player_turn_stats: Array.from({ length: members }, (_, i) => ({ user_id: `u-${String(i).padStart(60, '0')}`, planets: 3, population: 120.5 })) };
      return { ...stored(n), detail: snapshotDetailJson(`op-${n}`, update) };
    };
    const items = [...Array.from({ length: 10 }, (_, n) => big(n, 500)), big(10, 3000)];
    doc.on(BatchGetCommand).resolves({ Responses: { [OUTBOX]: items } });
    eventBridge.on(PutEventsCommand).callsFake((input: { Entries?: PutEventsRequestEntry[] }) => ({
      FailedEntryCount: 0,
      Entries: (input.Entries ?? []).map((_, i) => ({ EventId: `id-${i}` })),
    }));

    const res = await invoke(items.map((_, n) => record(n)));

    expect(res).toEqual(failures(10));
    const requests = eventBridge.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries ?? []);
    expect(requests.length).toBeGreaterThan(1);
    for (const entries of requests) {
      const bytes = entries.reduce((n, e) => n + 14 + Buffer.byteLength(e.Source ?? '') + Buffer.byteLength(e.DetailType ?? '') + Buffer.byteLength(e.Detail ?? ''), 0);
      expect(bytes).toBeLessThanOrEqual(256 * 1024);
    }
    expect(requests.flat().map((e) => e.Detail)).toEqual(items.slice(0, 10).map((i) => i.detail));
  });

  it('an insert without an event_id key is failed, never taken as delivered', async () => {
    const bad = record(0);
    delete bad.dynamodb?.Keys;
    expect(await invoke([bad])).toEqual(failures(0));
  });
});
