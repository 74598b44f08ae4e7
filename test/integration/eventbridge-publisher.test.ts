/**
 * Snapshot delivery end to end on DynamoDB Local's real stream: the
 * register handler commits the outbox item; the stream runner
 * (test/support/stream-relay.ts, shaped as Lambda's event source mapping)
 * hands the outbox stream to the real publishSnapshots handler, whose
 * PutEvents reach the loopback EventBridge double.
 *
 * Every case starts with the stream drained and the double reset, so what
 * a case reads on the stream is what it caused.
 */
import { DeleteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBBatchResponse } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.ts';
import { buildReconciler } from '../../lib/wiring.ts';
import { answerRoster } from '../support/engine-server.ts';
import { apiEvent, lambdaContext, RecordingLog, registerBody } from '../support/harness.ts';
import { coldStart, type Handler, parse, type Stack, startRelay, startStack } from '../support/stack.ts';
import type { StreamRelay } from '../support/stream-relay.ts';

const STARTING_TIMEOUT_S = 120;

let stack: Stack;
let handler: Handler;
let relay: StreamRelay;
let relayHandler: (event: { Records: unknown[] }, context: unknown) => Promise<DynamoDBBatchResponse>;
let counter = 0;
const newGame = () => `g-relay-${++counter}`;

beforeAll(async () => {
  stack = await startStack({ STARTING_TIMEOUT_S: String(STARTING_TIMEOUT_S) });
  handler = await coldStart('../../functions/register-runtime/handler.ts');
  relay = await startRelay(stack);
  relayHandler = await coldStart('../../functions/publish-snapshots/handler.ts');
});

beforeEach(async () => {
  // Drain whatever earlier cases left on the stream, then start clean.
  stack.events.reset();
  while ((await relay.pump()).length > 0) {
    // keep pumping until a round hands nothing over
  }
  stack.events.reset();
});

afterAll(async () => {
  relay?.close();
  await stack?.close();
});

async function register(gameId: string, endpoint = stack.engine.url, options: { version?: string } = {}) {
  return parse(await handler(apiEvent(registerBody(gameId, endpoint, options)), lambdaContext()));
}

/** The one outbox item of a game (fails the case when there is not exactly one). */
async function outboxItem(gameId: string): Promise<Record<string, unknown>> {
  const items = await stack.tables.outboxOf(gameId);
  expect(items, `outbox items of ${gameId}`).toHaveLength(1);
  return items[0] as Record<string, unknown>;
}

const sequenceOf = (records: { dynamodb?: { SequenceNumber?: string; Keys?: Record<string, { S?: string }> } }[], eventId: unknown) =>
  records.find((r) => r.dynamodb?.Keys?.event_id?.S === eventId)?.dynamodb?.SequenceNumber;

describe('Snapshot delivery: outbox -> stream -> publishSnapshots -> EventBridge (DynamoDB Local stream)', () => {
  it('one event per committed registration, none for any failure or reclaim; Detail byte for byte, carrying event_id', async () => {
    // Prepare: two registrations that commit...
    const ok = [newGame(), newGame()];
    for (const gameId of ok) expect((await register(gameId)).status).toBe(201);
    // ...and ones that fail: engine error, unknown version, a conflict, and a
    // registration whose record the reconciler reclaims while its engine call runs.
    const failed = [newGame(), newGame(), newGame()];
    expect((await register(failed[0] as string, `${stack.engine.url}/status-503`)).status).toBe(502);
    expect((await register(failed[1] as string, stack.engine.url, { version: '9.9.9' })).status).toBe(404);
    expect((await register(ok[0] as string)).status).toBe(409);
    const reconciler = buildReconciler(loadConfig(), {
      dynamo: stack.tables.client,
      log: new RecordingLog(),
      clock: () => new Date(Date.now() + (STARTING_TIMEOUT_S + 5) * 1000),
    });
    let reclaimed: Promise<unknown> = Promise.resolve();
    stack.engine.setNextHandler((_req, res, body) => {
      reclaimed = reconciler.run().then(() => answerRoster(res, body));
    });
    const reclaimedGame = failed[2] as string;
    expect((await register(reclaimedGame)).status).toBe(409);
    await reclaimed;
    const items = await Promise.all(ok.map(outboxItem));
    for (const gameId of failed) expect(await stack.tables.outboxOf(gameId)).toEqual([]);

    // Act: one round of the event source mapping.
    const invocations = await relay.pump();

    // Assess: exactly the committed registrations' events, none reported failed.
    expect(invocations.flatMap((i) => i.failed)).toEqual([]);
    expect(invocations.flatMap((i) => i.records).map((r) => r.dynamodb?.Keys?.event_id?.S)).toEqual(items.map((i) => i.event_id));
    const sent = stack.events.accepted();
    expect(sent.map((e) => e.Detail)).toEqual(items.map((i) => i.detail));
    for (const [i, entry] of sent.entries()) {
      expect(entry).toMatchObject({ Source: 'galaxy.gamemaster', DetailType: 'runtime_snapshot_update', EventBusName: 'game-master-test-events' });
      expect(entry.detail).toMatchObject({ event_id: items[i]?.event_id, game_id: ok[i] });
      expect(Object.keys(entry.detail as object)[0]).toBe('event_id');
    }
    expect(stack.events.entries).toHaveLength(2);
  });

  it('an entry EventBridge refused is reported, and delivered on the next invocation; no delivered entry is reported failed', async () => {
    // Prepare: three registrations; EventBridge refuses the second one's entry.
    const games = [newGame(), newGame(), newGame()];
    for (const gameId of games) expect((await register(gameId)).status).toBe(201);
    const items = await Promise.all(games.map(outboxItem));
    stack.events.refuse = (entry) => (entry.detail as { game_id?: string }).game_id === games[1];

    // Act 1
    const first = await relay.pump();

    // Assess 1: one invocation carrying all three; only the refused one reported.
    expect(first).toHaveLength(1);
    const records = first[0]?.records ?? [];
    expect(first[0]?.failed).toEqual([sequenceOf(records, items[1]?.event_id)]);
    expect(stack.events.accepted().map((e) => (e.detail as { game_id: string }).game_id)).toEqual([games[0], games[2]]);

    // Act 2: EventBridge accepts again; the next invocation starts at the failed record.
    stack.events.refuse = undefined;
    const second = await relay.pump();

    // Assess 2: the refused event delivered (and the one after it again: at
    // least once; consumers drop the duplicate by event_id).
    expect(second).toHaveLength(1);
    expect(second[0]?.failed).toEqual([]);
    expect(second[0]?.records.map((r) => r.dynamodb?.Keys?.event_id?.S)).toEqual([items[1]?.event_id, items[2]?.event_id]);
    const delivered = stack.events.accepted().map((e) => e.Detail);
    expect(delivered.filter((d) => d === items[1]?.detail)).toHaveLength(1);
    expect(new Set(delivered)).toEqual(new Set(items.map((i) => i.detail)));
    // A third round has nothing left to hand over.
    expect(await relay.pump()).toEqual([]);
  });

  it('a failed PutEvents request fails exactly the records it carried (12 records: 10 + 2)', async () => {
    // Prepare: twelve committed registrations, read off the stream as one batch.
    const games = Array.from({ length: 12 }, () => newGame());
    for (const gameId of games) expect((await register(gameId)).status).toBe(201);
    const records = (await relay.read()).filter((r) => r.eventName === 'INSERT');
    expect(records).toHaveLength(12);
    // The request carrying the last two entries fails (every attempt of it).
    const lastTwo = new Set(records.slice(10).map((r) => r.dynamodb?.NewImage?.game_id?.S));
    stack.events.modeFor = (entries) => (entries.some((e) => lastTwo.has((e.detail as { game_id?: string }).game_id)) ? 'http-500' : undefined);

    // Act
    const res = await relayHandler({ Records: records }, lambdaContext(30_000, 'game-master-test-publishSnapshots'));

    // Assess
    expect(res.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(records.slice(10).map((r) => r.dynamodb?.SequenceNumber));
    expect(stack.events.accepted()).toHaveLength(10);
    expect(new Set(stack.events.accepted().map((e) => (e.detail as { game_id: string }).game_id))).toEqual(
      new Set(records.slice(0, 10).map((r) => r.dynamodb?.NewImage?.game_id?.S)),
    );
    stack.events.modeFor = undefined;
  });

  it('non-insert records (a change, a TTL-style removal) are skipped, not failed, and send nothing', async () => {
    // Prepare: a delivered registration, then its item modified and removed.
    const gameId = newGame();
    expect((await register(gameId)).status).toBe(201);
    const item = await outboxItem(gameId);
    expect(await relay.pump()).toEqual([expect.objectContaining({ failed: [] })]);
    const requests = stack.events.requests;
    const table = stack.tables.names.outbox;
    await stack.tables.doc.send(new UpdateCommand({ TableName: table, Key: { event_id: item.event_id }, UpdateExpression: 'SET expiration = :e', ExpressionAttributeValues: { ':e': 1 } }));
    await stack.tables.doc.send(new DeleteCommand({ TableName: table, Key: { event_id: item.event_id } }));
    const changes = await relay.read();
    expect(changes.map((r) => r.eventName)).toEqual(['MODIFY', 'REMOVE']);

    // Act: handed to the handler directly (the mapping's filter would drop them first).
    const res = await relayHandler({ Records: changes }, lambdaContext(30_000, 'game-master-test-publishSnapshots'));

    // Assess
    expect(res).toEqual({ batchItemFailures: [] });
    expect(stack.events.requests).toBe(requests);
  });

  it('an insert whose outbox item is gone (rolled back after the stream emitted it) is skipped, not failed, not sent', async () => {
    // Prepare: a committed registration whose item is deleted before the relay runs.
    const gameId = newGame();
    expect((await register(gameId)).status).toBe(201);
    const item = await outboxItem(gameId);
    await stack.tables.doc.send(new DeleteCommand({ TableName: stack.tables.names.outbox, Key: { event_id: item.event_id } }));

    // Act
    const invocations = await relay.pump();

    // Assess: the insert was handed over, answered as done, and nothing was sent.
    expect(invocations).toEqual([expect.objectContaining({ failed: [] })]);
    expect(invocations[0]?.records.map((r) => r.eventName)).toEqual(['INSERT']);
    expect(stack.events.requests).toBe(0);
  });

  it('records reach the handler shaped as Lambda shapes them', async () => {
    const gameId = newGame();
    expect((await register(gameId)).status).toBe(201);
    const [record] = await relay.read();
    expect(record).toMatchObject({
      eventName: 'INSERT',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      eventSourceARN: relay.streamArn,
      dynamodb: {
        Keys: { event_id: { S: expect.any(String) } },
        NewImage: { game_id: { S: gameId }, detail: { S: expect.any(String) } },
        SequenceNumber: expect.any(String),
        StreamViewType: 'NEW_IMAGE',
        ApproximateCreationDateTime: expect.any(Number),
      },
    });
  });
});
