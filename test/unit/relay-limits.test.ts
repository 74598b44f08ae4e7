/**
 * The relay within EventBridge's PutEvents limits (issue 16, item 2), and
 * the outbox items it never sends. The relay runs with its real adapters
 * (DynamoOutboxReader, EventBridgeEventSender) on mocked SDK clients; the
 * request sizes are recomputed here from what was sent, with EventBridge's
 * own formula, not with the code under test.
 */
import 'aws-sdk-client-mock-vitest/extend';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { EventBridgeEventSender } from '../../lib/adapters/eventbridge-publisher.ts';
import { DynamoOutboxReader } from '../../lib/adapters/outbox-reader.ts';
import { parseOutboxItem } from '../../lib/domain/outbox-item.ts';
import { PUT_EVENTS_MAX_BYTES, planPutEvents, putEventsEntrySize } from '../../lib/domain/put-events-batches.ts';
import { type OutboxEvent, snapshotDetailJson } from '../../lib/domain/snapshot-event.ts';
import type { Log, Telemetry } from '../../lib/ports.ts';
import { PublishSnapshots, type StreamRecordRef } from '../../lib/publish-snapshots/publish-snapshots.ts';

const BUS = 'galaxy-test-bus';
const OUTBOX = 'outbox';
const eventBridge = mockClient(EventBridgeClient);
const doc = mockClient(DynamoDBDocumentClient);

beforeEach(() => {
  eventBridge.reset();
  doc.reset();
});

/** EventBridge's count for one sent entry: 14 (Time) + UTF-8 bytes of Source, DetailType, Detail, Resources. */
function countedSize(e: PutEventsRequestEntry): number {
  const bytes = (s: string | undefined) => Buffer.byteLength(s ?? '', 'utf8');
  return 14 + bytes(e.Source) + bytes(e.DetailType) + bytes(e.Detail) + (e.Resources ?? []).reduce((n, r) => n + bytes(r), 0);
}

/** A snapshot of a full 500-member roster with long user ids and non-ASCII-free stats: about 57 KB. */
function bigItem(n: number, members = 500): OutboxEvent {
  const eventId = `2026-11-24T10:00:00.000Z#op-${n}`;
  const stats = Array.from({ length: members }, (_, i) => ({
    user_id: `user-${String(i).padStart(4, '0')}-${'x'.repeat(48)}`,
    planets: 12,
    population: 1234.5,
  }));
  return {
    event_id: eventId,
    game_id: `g-${n}`,
    detail_type: 'runtime_snapshot_update',
    detail: snapshotDetailJson(eventId, {
      game_id: `g-${n}`,
      current_turn: 0,
      runtime_status: 'running',
      engine_health_summary: '',
      occurred_at: '2026-11-24T10:00:00.000Z',
      player_turn_stats: stats,
    }),
    created_at: '2026-11-24T10:00:00.000Z',
    expiration: 1,
  };
}

function relay(log: Log = { info() {}, warn() {}, error() {} }) {
  const telemetry: Telemetry = { registerOutcome() {}, eventPublished() {}, eventDeliveryLag() {}, oldestStartingAge() {} };
  return new PublishSnapshots({
    outbox: new DynamoOutboxReader(DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })), OUTBOX, async () => undefined),
    sender: new EventBridgeEventSender(new EventBridgeClient({ region: 'us-east-1' }), BUS),
    telemetry,
    log,
  });
}

const ref = (item: { event_id?: unknown }, n: number): StreamRecordRef => ({ sequenceNumber: String(1000 + n), eventName: 'INSERT', eventId: String(item.event_id) });

/** EventBridge accepts every entry of every request. */
function acceptEverything() {
  eventBridge.on(PutEventsCommand).callsFake((input: { Entries?: PutEventsRequestEntry[] }) => ({
    FailedEntryCount: 0,
    Entries: (input.Entries ?? []).map((_, i) => ({ EventId: `id-${i}` })),
  }));
}

function logRecorder() {
  const lines: { level: string; message: string; extra: Record<string, unknown> }[] = [];
  const log: Log = {
    info: (message, extra) => lines.push({ level: 'info', message, extra }),
    warn: (message, extra) => lines.push({ level: 'warn', message, extra }),
    error: (message, extra) => lines.push({ level: 'error', message, extra }),
  };
  return { log, lines };
}

describe('Function: planPutEvents', () => {
  const size = (n: number) => n;

  it('closes a request at 10 entries', () => {
    const plan = planPutEvents(
      Array.from({ length: 23 }, () => 1),
      size,
    );
    expect(plan.requests.map((r) => r.length)).toEqual([10, 10, 3]);
    expect(plan.oversized).toEqual([]);
  });

  it('closes a request before it would pass 256 KiB; exactly 256 KiB fits', () => {
    const half = PUT_EVENTS_MAX_BYTES / 2;
    const plan = planPutEvents([half, half, half, half + 1, 1], size);
    expect(plan.requests).toEqual([[half, half], [half], [half + 1, 1]]);
    for (const r of plan.requests) expect(r.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(PUT_EVENTS_MAX_BYTES);
  });

  it('puts an entry larger than a whole request aside, keeping the order of the others', () => {
    const plan = planPutEvents([1, PUT_EVENTS_MAX_BYTES + 1, 2], size);
    expect(plan.requests).toEqual([[1, 2]]);
    expect(plan.oversized).toEqual([PUT_EVENTS_MAX_BYTES + 1]);
  });

  it('counts an entry as EventBridge does: 14 bytes for Time plus UTF-8 bytes of Source, DetailType, Detail, Resources', () => {
    expect(putEventsEntrySize({ source: 'galaxy.gamemaster', detailType: 'd', detail: '{"a":"é"}', resources: ['r1', 'ü'] })).toBe(
      14 + 17 + 1 + 10 + 2 + 2,
    );
  });
});

describe('Class: PublishSnapshots (PutEvents limits)', () => {
  it('ten 500-member snapshots go out in several requests, each at most 10 entries and 256 KiB, every one delivered once, in order', async () => {
    const items = Array.from({ length: 10 }, (_, n) => bigItem(n));
    expect(Buffer.byteLength(items[0]?.detail ?? '')).toBeGreaterThan(50_000);
    doc.on(BatchGetCommand).resolves({ Responses: { [OUTBOX]: items } });
    acceptEverything();

    const results = await relay().deliver(items.map(ref));

    const requests = eventBridge.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries ?? []);
    expect(requests.length).toBeGreaterThan(1);
    for (const entries of requests) {
      expect(entries.length).toBeLessThanOrEqual(10);
      expect(entries.reduce((n, e) => n + countedSize(e), 0)).toBeLessThanOrEqual(PUT_EVENTS_MAX_BYTES);
    }
    expect(requests.flat().map((e) => e.Detail)).toEqual(items.map((i) => i.detail));
    expect([...results.values()]).toEqual(items.map(() => ({ status: 'delivered' })));
  });

  it('a single entry over 256 KiB fails its own record only (logged with its event_id); the others are sent', async () => {
    const huge = bigItem(1, 2600);
    expect(putEventsEntrySize({ source: 'galaxy.gamemaster', detailType: huge.detail_type, detail: huge.detail })).toBeGreaterThan(PUT_EVENTS_MAX_BYTES);
    const items = [bigItem(0), huge, bigItem(2)];
    doc.on(BatchGetCommand).resolves({ Responses: { [OUTBOX]: items } });
    acceptEverything();
    const { log, lines } = logRecorder();

    const results = await relay(log).deliver(items.map(ref));

    expect(results.get('1000')).toEqual({ status: 'delivered' });
    expect(results.get('1001')).toEqual({ status: 'failed', reason: 'entry over the PutEvents size limit' });
    expect(results.get('1002')).toEqual({ status: 'delivered' });
    expect(
      eventBridge
        .commandCalls(PutEventsCommand)
        .flatMap((c) => c.args[0].input.Entries ?? [])
        .map((e) => e.Detail),
    ).toEqual([items[0]?.detail, items[2]?.detail]);
    expect(lines).toContainEqual(expect.objectContaining({ level: 'error', extra: expect.objectContaining({ event_id: huge.event_id }) }));
  });
});

describe('Class: PublishSnapshots (items not shaped as the commit writes them)', () => {
  const good = { event_id: 'op-ok', game_id: 'g', detail_type: 'runtime_snapshot_update', detail: '{"event_id":"op-ok"}', created_at: '2026-11-24T10:00:00.000Z', expiration: 1 };
  const cases: [string, Record<string, unknown>][] = [
    ['detail missing', { detail: undefined }],
    ['detail not a string', { detail: { event_id: 'x' } }],
    ['detail not JSON', { detail: '{"event_id":' }],
    ['detail a JSON array', { detail: '[1,2]' }],
    ['detail JSON null', { detail: 'null' }],
    ['detail a JSON string', { detail: '"text"' }],
    ['detail_type missing', { detail_type: undefined }],
    ['detail_type not a string', { detail_type: 7 }],
    ['created_at missing', { created_at: undefined }],
    ['created_at not a string', { created_at: 1764000000 }],
  ];

  it.each(cases)('%s: never sent, its record fails, logged with its event_id; the good one is delivered', async (_name, change) => {
    const bad: Record<string, unknown> = { ...good, ...change, event_id: 'op-bad' };
    for (const [k, v] of Object.entries(change)) if (v === undefined) delete bad[k];
    doc.on(BatchGetCommand).resolves({ Responses: { [OUTBOX]: [good, bad] } });
    acceptEverything();
    const { log, lines } = logRecorder();

    const results = await relay(log).deliver([ref(good, 0), ref(bad, 1)]);

    expect(results.get('1000')).toEqual({ status: 'delivered' });
    expect(results.get('1001')).toMatchObject({ status: 'failed' });
    const sent = eventBridge.commandCalls(PutEventsCommand).flatMap((c) => c.args[0].input.Entries ?? []);
    expect(sent.map((e) => e.Detail)).toEqual([good.detail]);
    expect(lines).toContainEqual(expect.objectContaining({ level: 'error', extra: expect.objectContaining({ event_id: 'op-bad' }) }));
  });

  it('a batch of only malformed items sends nothing', async () => {
    const bad = { ...good, detail: '[]' };
    doc.on(BatchGetCommand).resolves({ Responses: { [OUTBOX]: [bad] } });
    const results = await relay().deliver([ref(bad, 0)]);
    expect(results.get('1000')).toMatchObject({ status: 'failed' });
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(0);
  });

  it('parseOutboxItem takes the item as the commit writes it', () => {
    expect(parseOutboxItem(good)).toEqual({ ok: true, event: good });
  });
});

describe('Class: EventBridgeEventSender (size limit)', () => {
  it('refuses a request over 256 KiB without calling', async () => {
    const sender = new EventBridgeEventSender(new EventBridgeClient({ region: 'us-east-1' }), BUS);
    await expect(sender.send(Array.from({ length: 5 }, (_, n) => bigItem(n)))).rejects.toThrow(RangeError);
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(0);
  });
});
