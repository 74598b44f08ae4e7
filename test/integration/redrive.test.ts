/**
 * `npm run redrive` (scripts/redrive-lib.ts) end to end: the outbox on
 * DynamoDB Local (a table named as the stage names it, created from
 * infra/tables.yml), the dead-letter queue, the outbox stream and EventBridge
 * mocked with aws-sdk-client-mock (no local emulation of SQS or of a stream
 * older than 24 h). Every address is loopback.
 */
import 'aws-sdk-client-mock-vitest/extend';
import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand, TrimmedDataAccessException } from '@aws-sdk/client-dynamodb-streams';
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { DeleteMessageCommand, GetQueueUrlCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { createTables, LOCAL_AWS_ENV, scanAll, tableNames } from '../../infra/local-stack.ts';
import { PUT_EVENTS_MAX_BYTES } from '../../lib/domain/put-events-batches.ts';
import { type OutboxEvent, outboxEvent } from '../../lib/domain/snapshot-event.ts';
import { parseRedriveArgs, runRedrive } from '../../scripts/redrive-lib.ts';

const STAGE = `rd${randomBytes(4).toString('hex')}`;
const OUTBOX = `game-master-${STAGE}-outbox`;
const QUEUE_URL = `http://127.0.0.1:9/000000000000/game-master-${STAGE}-snapshot-dead-letters`;
const STREAM_ARN = `arn:aws:dynamodb:eu-west-1:000000000000:table/${OUTBOX}/stream/2026-12-01T00:00:00.000`;

const sqs = mockClient(SQSClient);
const streams = mockClient(DynamoDBStreamsClient);
const eventBridge = mockClient(EventBridgeClient);
let doc: DynamoDBDocumentClient;

beforeAll(async () => {
  const client = new DynamoDBClient({
    endpoint: inject('dynamoEndpoint'),
    region: LOCAL_AWS_ENV.AWS_REGION,
    credentials: { accessKeyId: LOCAL_AWS_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: LOCAL_AWS_ENV.AWS_SECRET_ACCESS_KEY },
  });
  await createTables(client, tableNames(`game-master-${STAGE}`));
  doc = DynamoDBDocumentClient.from(client);
});

beforeEach(() => {
  sqs.reset();
  streams.reset();
  eventBridge.reset();
  sqs.on(GetQueueUrlCommand).resolves({ QueueUrl: QUEUE_URL });
  sqs.on(DeleteMessageCommand).resolves({});
});

let counter = 0;
/** An outbox item as the commit writes it, created at `createdAt`, with `members` players. */
async function seedItem(createdAt: Date, members = 2): Promise<OutboxEvent> {
  const eventId = `${createdAt.toISOString()}#rd${++counter}`;
  const item = outboxEvent(
    eventId,
    {
      game_id: `g-rd-${counter}`,
      current_turn: 0,
      runtime_status: 'running',
      engine_health_summary: '',
      occurred_at: createdAt.toISOString(),
      player_turn_stats: Array.from({ length: members }, (_, i) => ({
        user_id: `user-${String(i).padStart(4, '0')}-${'x'.repeat(48)}`,
        planets: 3,
        population: 120.5,
      })),
    },
    createdAt,
    604_800,
  );
  await doc.send(new PutCommand({ TableName: OUTBOX, Item: item }));
  return item;
}

/** An event id that never had (or no longer has) an item: its TTL removed it. */
const expiredId = () => `2026-11-20T10:00:00.000Z#expired${++counter}`;

/** Lambda's on-failure record for a stream batch, as the dead-letter queue holds it. */
function deadLetter(id: string, batch: { start: bigint; end: bigint; first: Date; last: Date }) {
  return {
    MessageId: id,
    ReceiptHandle: `rh-${id}`,
    Body: JSON.stringify({
      requestContext: { requestId: `req-${id}`, functionArn: 'arn:aws:lambda:eu-west-1:000000000000:function:game-master-x-publishSnapshots', condition: 'RecordAgeExceeded', approximateInvokeCount: 40 },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: '' },
      version: '1.0',
      timestamp: new Date(batch.last.getTime() + 3_600_000).toISOString(),
      DDBStreamBatchInfo: {
        shardId: 'shardId-00000001764900000000-abcdef01',
        startSequenceNumber: String(batch.start),
        endSequenceNumber: String(batch.end),
        approximateArrivalOfFirstRecord: batch.first.toISOString().replace(/\.\d{3}Z$/, 'Z'),
        approximateArrivalOfLastRecord: batch.last.toISOString().replace(/\.\d{3}Z$/, 'Z'),
        batchSize: Number(batch.end - batch.start) + 1,
        streamArn: STREAM_ARN,
      },
    }),
  };
}

/** The stream's records for a shard read: INSERTs of the given event ids, numbered from `start`. */
function streamRecords(start: bigint, eventIds: string[]) {
  return eventIds.map((id, i) => ({
    eventName: 'INSERT' as const,
    dynamodb: { SequenceNumber: String(start + BigInt(i)), Keys: { event_id: { S: id } } },
  }));
}

function queueHolds(...messages: ReturnType<typeof deadLetter>[]) {
  sqs.on(ReceiveMessageCommand).resolvesOnce({ Messages: messages }).resolves({ Messages: [] });
}

function acceptEverything() {
  eventBridge.on(PutEventsCommand).callsFake((input: { Entries?: PutEventsRequestEntry[] }) => ({
    FailedEntryCount: 0,
    Entries: (input.Entries ?? []).map((_, i) => ({ EventId: `eb-${i}` })),
  }));
}

async function run(...args: string[]) {
  const lines: string[] = [];
  const code = await runRedrive(['--stage', STAGE, ...args], {
    sqs: new SQSClient({ region: 'eu-west-1' }),
    streams: new DynamoDBStreamsClient({ region: 'eu-west-1' }),
    doc,
    eventBridge: new EventBridgeClient({ region: 'eu-west-1' }),
    print: (line) => lines.push(line),
  });
  return { code, output: lines.join('\n') };
}

const sentEntries = () => eventBridge.commandCalls(PutEventsCommand).flatMap((c) => c.args[0].input.Entries ?? []);

describe('npm run redrive', () => {
  it('re-sends the events of a dead letter the stream still holds, byte for byte on the stage bus, then deletes the dead letter', async () => {
    const at = new Date(Date.now() - 2 * 3_600_000);
    const [a, b] = [await seedItem(at), await seedItem(at)] as [OutboxEvent, OutboxEvent];
    const start = 4_000_000_000_000_000_000n;
    queueHolds(deadLetter('dl-1', { start, end: start + 1n, first: at, last: at }));
    streams.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-1' });
    // The shard page also holds a record past the batch: not the dead letter's.
    streams.on(GetRecordsCommand).resolves({ Records: streamRecords(start, [a.event_id, b.event_id, 'past-the-batch']), NextShardIterator: 'it-2' });
    acceptEverything();

    const { code, output } = await run();

    expect(code, output).toBe(0);
    expect(streams).toReceiveCommandWith(GetShardIteratorCommand, {
      StreamArn: STREAM_ARN,
      ShardIteratorType: 'AT_SEQUENCE_NUMBER',
      SequenceNumber: String(start),
    });
    expect(sentEntries()).toEqual([
      { EventBusName: `game-master-${STAGE}-events`, Source: 'galaxy.gamemaster', DetailType: 'runtime_snapshot_update', Detail: a.detail },
      { EventBusName: `game-master-${STAGE}-events`, Source: 'galaxy.gamemaster', DetailType: 'runtime_snapshot_update', Detail: b.detail },
    ]);
    expect(sqs).toReceiveCommandExactlyOnceWith(DeleteMessageCommand, { QueueUrl: QUEUE_URL, ReceiptHandle: 'rh-dl-1' });
    expect(output).toContain('[redrive] dead letter 1 (dl-1)');
    expect(output).toMatch(/dl-1 +stream +.*#rd\d+ +g-rd-\d+ +sent/);
    expect(output).toContain('1 dead letter(s): 1 deleted, 0 left; events: 2 sent, 0 expired, 0 refused');
  });

  it('a dead letter older than the stream: its events come from the outbox items of the batch time window', async () => {
    const at = new Date(Date.now() - 3 * 86_400_000);
    const inside = await seedItem(at);
    const outside = await seedItem(new Date(at.getTime() - 3_600_000));
    queueHolds(deadLetter('dl-2', { start: 100n, end: 100n, first: at, last: at }));
    streams.on(GetShardIteratorCommand).rejects(new TrimmedDataAccessException({ message: 'trimmed', $metadata: {} }));
    acceptEverything();

    const { code, output } = await run();

    expect(code, output).toBe(0);
    const details = sentEntries().map((e) => e.Detail);
    expect(details).toContain(inside.detail);
    expect(details).not.toContain(outside.detail);
    expect(streams.commandCalls(GetRecordsCommand)).toHaveLength(0);
    expect(sqs).toReceiveCommandExactlyOnceWith(DeleteMessageCommand, { QueueUrl: QUEUE_URL, ReceiptHandle: 'rh-dl-2' });
    expect(output).toContain('the stream no longer holds the batch (TrimmedDataAccessException)');
    expect(output).toMatch(/dl-2 +outbox window +/);
  });

  it('an event whose outbox item expired is skipped and reported; the others are sent; the dead letter stays; exit 1', async () => {
    const at = new Date(Date.now() - 3_600_000);
    const alive = await seedItem(at);
    const gone = expiredId();
    queueHolds(deadLetter('dl-3', { start: 500n, end: 501n, first: at, last: at }));
    streams.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it' });
    streams.on(GetRecordsCommand).resolves({ Records: streamRecords(500n, [alive.event_id, gone]), NextShardIterator: 'it-next' });
    acceptEverything();

    const { code, output } = await run();

    expect(code, output).toBe(1);
    expect(sentEntries().map((e) => e.Detail)).toEqual([alive.detail]);
    expect(sqs.commandCalls(DeleteMessageCommand)).toHaveLength(0);
    expect(output).toContain(`${gone}`);
    expect(output).toMatch(/expired +outbox item gone \(TTL\)/);
    expect(output).toContain('1 dead letter(s): 0 deleted, 1 left; events: 1 sent, 1 expired');
    expect(output).toContain('something was left');
  });

  it('an entry EventBridge refused leaves its dead letter in the queue; exit 1', async () => {
    const at = new Date(Date.now() - 3_600_000);
    const [a, b] = [await seedItem(at), await seedItem(at)] as [OutboxEvent, OutboxEvent];
    queueHolds(deadLetter('dl-4', { start: 700n, end: 701n, first: at, last: at }));
    streams.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it' });
    streams.on(GetRecordsCommand).resolves({ Records: streamRecords(700n, [a.event_id, b.event_id]) });
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ EventId: 'ok' }, { ErrorCode: 'InternalFailure', ErrorMessage: 'try later' }] });

    const { code, output } = await run();

    expect(code, output).toBe(1);
    expect(sqs.commandCalls(DeleteMessageCommand)).toHaveLength(0);
    expect(output).toMatch(/refused +InternalFailure: try later/);
    expect(output).toContain('0 deleted, 1 left; events: 1 sent, 0 expired, 1 refused');
  });

  it('--dry-run sends nothing, deletes nothing, writes nothing, and says what it would do', async () => {
    const at = new Date(Date.now() - 3_600_000);
    const a = await seedItem(at);
    queueHolds(deadLetter('dl-5', { start: 900n, end: 900n, first: at, last: at }));
    streams.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it' });
    streams.on(GetRecordsCommand).resolves({ Records: streamRecords(900n, [a.event_id]) });
    const before = await scanAll(doc, OUTBOX);

    const { code, output } = await run('--dry-run');

    expect(code, output).toBe(0);
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(0);
    expect(sqs.commandCalls(DeleteMessageCommand)).toHaveLength(0);
    expect(await scanAll(doc, OUTBOX)).toEqual(before);
    expect(output).toContain('dry run: nothing is sent or deleted');
    expect(output).toMatch(/would send/);
    expect(output).toContain('dry run: 1 dead letter(s): 1 would be deleted, 0 left; events: 1 would be sent');
  });

  it('ten 500-member snapshots of one dead letter go out in several requests within 256 KiB each', async () => {
    const at = new Date(Date.now() - 3_600_000);
    const items: OutboxEvent[] = [];
    for (let i = 0; i < 10; i++) items.push(await seedItem(at, 500));
    queueHolds(deadLetter('dl-6', { start: 1000n, end: 1009n, first: at, last: at }));
    streams.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it' });
    streams.on(GetRecordsCommand).resolves({ Records: streamRecords(1000n, items.map((i) => i.event_id)) });
    acceptEverything();

    const { code, output } = await run();

    expect(code, output).toBe(0);
    const requests = eventBridge.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries ?? []);
    expect(requests.length).toBeGreaterThan(1);
    for (const entries of requests) {
      const size = entries.reduce(
        (n, e) => n + 14 + Buffer.byteLength(e.Source ?? '') + Buffer.byteLength(e.DetailType ?? '') + Buffer.byteLength(e.Detail ?? ''),
        0,
      );
      expect(size).toBeLessThanOrEqual(PUT_EVENTS_MAX_BYTES);
    }
    expect(requests.flat().map((e) => e.Detail)).toEqual(items.map((i) => i.detail));
  });

  it('--limit bounds the dead letters read; an empty queue is a clean exit', async () => {
    const at = new Date(Date.now() - 3_600_000);
    const a = await seedItem(at);
    sqs.on(ReceiveMessageCommand).resolves({ Messages: [deadLetter('dl-7', { start: 1n, end: 1n, first: at, last: at }), deadLetter('dl-8', { start: 1n, end: 1n, first: at, last: at })] });
    streams.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it' });
    streams.on(GetRecordsCommand).resolves({ Records: streamRecords(1n, [a.event_id]) });
    acceptEverything();
    const limited = await run('--limit', '1');
    expect(limited.code, limited.output).toBe(0);
    expect(sqs).toReceiveCommandWith(ReceiveMessageCommand, { QueueUrl: QUEUE_URL, MaxNumberOfMessages: 1 });
    expect(sqs.commandCalls(DeleteMessageCommand)).toHaveLength(1);

    sqs.on(ReceiveMessageCommand).resolves({});
    const empty = await run();
    expect(empty.code, empty.output).toBe(0);
    expect(empty.output).toContain('0 dead letter(s)');
  });

  it('refuses a missing stage or a bad limit with the usage line (exit 2), before any request', async () => {
    expect(() => parseRedriveArgs([])).toThrow(/--stage is required/);
    expect(() => parseRedriveArgs(['--stage', 'prod', '--limit', '0'])).toThrow(/--limit/);
    expect(() => parseRedriveArgs(['--stage', 'prod', '--force'])).toThrow(/unknown argument/);
    expect(parseRedriveArgs(['--stage', 'prod', '--dry-run', '--limit', '5'])).toEqual({ stage: 'prod', dryRun: true, limit: 5 });
    const lines: string[] = [];
    const code = await runRedrive([], { sqs: new SQSClient({ region: 'eu-west-1' }), streams: new DynamoDBStreamsClient({ region: 'eu-west-1' }), doc, eventBridge: new EventBridgeClient({ region: 'eu-west-1' }), print: (l) => lines.push(l) });
    expect(code).toBe(2);
    expect(lines.join('\n')).toContain('usage: npm run redrive');
    expect(sqs.commandCalls(GetQueueUrlCommand)).toHaveLength(0);
  });
});
