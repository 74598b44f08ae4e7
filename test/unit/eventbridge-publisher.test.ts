import 'aws-sdk-client-mock-vitest/extend';
import { EventBridgeClient, EventBridgeServiceException, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { EventBridgeSnapshotPublisher, SnapshotPublishError } from '../../lib/adapters/eventbridge-publisher.ts';
import { buildSnapshotUpdate, SNAPSHOT_DETAIL_FIELDS, SNAPSHOT_EVENT } from '../../lib/domain/snapshot-event.ts';
import type { RuntimeSnapshotUpdate } from '../../lib/domain/snapshot-event.ts';

const BUS = 'galaxy-test-bus';

/** The spec's example event, as Lobby receives it. */
const SPEC_DETAIL =
  '{"game_id":"g-7f3a","current_turn":0,"runtime_status":"running",' +
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

describe('Class: EventBridgeSnapshotPublisher', () => {
  const client = new EventBridgeClient({});
  const eventBridge = mockClient(client);

  beforeEach(() => {
    eventBridge.reset();
  });

  describe('Method: publishSnapshot', () => {
    it('sends one PutEvents entry on the bus with the contract source, detail-type and detail', async () => {
      // Prepare
      eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
      const publisher = new EventBridgeSnapshotPublisher(client, BUS);

      // Act
      await publisher.publishSnapshot(specUpdate());

      // Assess
      expect(eventBridge).toReceiveCommandExactlyOnceWith(PutEventsCommand, {
        Entries: [{ EventBusName: BUS, Source: 'galaxy.gamemaster', DetailType: 'runtime_snapshot_update', Detail: SPEC_DETAIL }],
      });
      expect(eventBridge.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries).toHaveLength(1);
    });

    it('serialises the detail in contract order, whatever order and extra keys the update has', async () => {
      // Prepare
      eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
      const publisher = new EventBridgeSnapshotPublisher(client, BUS);
      const shuffled = {
        player_turn_stats: [{ population: 120.5, extra: true, planets: 3, user_id: 'u-1' }],
        occurred_at: '2026-11-24T10:00:00.000Z',
        internal: 'not for lobby',
        engine_health_summary: '',
        runtime_status: 'running',
        current_turn: 0,
        game_id: 'g-7f3a',
      } as unknown as RuntimeSnapshotUpdate;

      // Act
      await publisher.publishSnapshot(shuffled);

      // Assess
      const detail = eventBridge.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0]?.Detail;
      expect(detail).toBe(SPEC_DETAIL);
      expect(Object.keys(JSON.parse(detail ?? '{}'))).toEqual([...SNAPSHOT_DETAIL_FIELDS]);
    });

    it('resolves when the answer carries no entries at all', async () => {
      // Prepare
      eventBridge.on(PutEventsCommand).resolves({});
      const publisher = new EventBridgeSnapshotPublisher(client, BUS);

      // Act & Assess
      await expect(publisher.publishSnapshot(specUpdate())).resolves.toBeUndefined();
    });

    it('rejects when EventBridge answers FailedEntryCount > 0', async () => {
      // Prepare
      const failedEntry = { ErrorCode: 'InternalFailure', ErrorMessage: 'Internal service error.' };
      eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [failedEntry] });
      const publisher = new EventBridgeSnapshotPublisher(client, BUS);

      // Act
      const error = await publisher.publishSnapshot(specUpdate()).catch((e: unknown) => e);

      // Assess
      expect(error).toBeInstanceOf(SnapshotPublishError);
      expect(error).toMatchObject({
        message: 'publish runtime_snapshot_update: 1 entry failed (ErrorCode InternalFailure)',
        cause: failedEntry,
      });
    });

    it('rejects when an entry carries an ErrorCode even though FailedEntryCount is 0', async () => {
      // Prepare
      eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ ErrorCode: 'ThrottlingException' }] });
      const publisher = new EventBridgeSnapshotPublisher(client, BUS);

      // Act & Assess
      await expect(publisher.publishSnapshot(specUpdate())).rejects.toThrow(
        'publish runtime_snapshot_update: 1 entry failed (ErrorCode ThrottlingException)',
      );
    });

    it('rejects when FailedEntryCount > 0 names no ErrorCode', async () => {
      // Prepare
      eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{}] });
      const publisher = new EventBridgeSnapshotPublisher(client, BUS);

      // Act & Assess
      await expect(publisher.publishSnapshot(specUpdate())).rejects.toThrow(
        'publish runtime_snapshot_update: 1 entry failed (ErrorCode unknown)',
      );
    });

    it('rejects in its own words, keeping the SDK error as cause, when the call throws', async () => {
      // Prepare
      const sdkError = new EventBridgeServiceException({
        name: 'InternalException',
        $fault: 'server',
        $metadata: { httpStatusCode: 500 },
        message: 'socket hang up at 10.0.0.7:443',
      });
      eventBridge.on(PutEventsCommand).rejects(sdkError);
      const publisher = new EventBridgeSnapshotPublisher(client, BUS);

      // Act
      const error = await publisher.publishSnapshot(specUpdate()).catch((e: unknown) => e);

      // Assess
      expect(error).toBeInstanceOf(SnapshotPublishError);
      expect((error as Error).message).toBe('publish runtime_snapshot_update: request failed');
      expect((error as Error).cause).toBe(sdkError);
    });

    it('says "cancelled" when the caller aborted the call', async () => {
      // Prepare
      const controller = new AbortController();
      eventBridge.on(PutEventsCommand).callsFake(() => {
        controller.abort();
        throw Object.assign(new Error('Request aborted'), { name: 'AbortError' });
      });
      const publisher = new EventBridgeSnapshotPublisher(client, BUS);

      // Act & Assess
      await expect(publisher.publishSnapshot(specUpdate(), controller.signal)).rejects.toThrow(
        'publish runtime_snapshot_update: cancelled',
      );
    });
  });
});

describe('Module: snapshot-event', () => {
  describe('Function: buildSnapshotUpdate', () => {
    it('joins the engine players to the roster by race and sorts the stats by user_id', () => {
      // Prepare
      const source = {
        record: { game_id: 'g-1', current_turn: 0, status: 'running' as const, engine_health: '' },
        mappings: [
          { user_id: 'u-b', race_name: 'Zorg' },
          { user_id: 'U-c', race_name: 'Alpha' },
          { user_id: 'u-a', race_name: 'Mid' },
        ],
        players: [
          { race_name: 'Alpha', planets: 1, population: 10 },
          { race_name: 'Mid', planets: 2, population: 20.5 },
          { race_name: 'Zorg', planets: 3, population: 30 },
        ],
        occurredAt: '2026-11-24T10:00:00.000Z',
      };

      // Act
      const update = buildSnapshotUpdate(source);

      // Assess: code-unit order ('U' < 'u'), as Go's string comparison
      expect(update).toEqual({
        game_id: 'g-1',
        current_turn: 0,
        runtime_status: 'running',
        engine_health_summary: '',
        occurred_at: '2026-11-24T10:00:00.000Z',
        player_turn_stats: [
          { user_id: 'U-c', planets: 1, population: 10 },
          { user_id: 'u-a', planets: 2, population: 20.5 },
          { user_id: 'u-b', planets: 3, population: 30 },
        ],
      });
      expect(Object.keys(update)).toEqual([...SNAPSHOT_DETAIL_FIELDS]);
    });

    it('names the event the way the contract does', () => {
      // Assess
      expect(SNAPSHOT_EVENT).toEqual({ source: 'galaxy.gamemaster', detailType: 'runtime_snapshot_update' });
    });
  });
});
