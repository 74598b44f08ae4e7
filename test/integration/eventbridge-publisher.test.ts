/**
 * The publisher with a real EventBridgeClient (signing, AWS JSON 1.1,
 * retries, abort) against the loopback EventBridge double in each mode.
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { EventBridgeSnapshotPublisher, SnapshotPublishError } from '../../lib/adapters/eventbridge-publisher.ts';
import type { RuntimeSnapshotUpdate } from '../../lib/domain/snapshot-event.ts';
import { type EventBridgeDouble, startEventBridgeServer } from '../support/eventbridge-server.ts';

const BUS = 'galaxy-it-bus';
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

const update: RuntimeSnapshotUpdate = {
  game_id: 'g-7f3a',
  current_turn: 0,
  runtime_status: 'running',
  engine_health_summary: '',
  occurred_at: '2026-11-24T10:00:00.000Z',
  player_turn_stats: [
    { user_id: 'u-1', planets: 3, population: 120.5 },
    { user_id: 'u-2', planets: 1, population: 7 },
  ],
};

describe('Class: EventBridgeSnapshotPublisher (against the loopback EventBridge)', () => {
  let double: EventBridgeDouble;
  const clients: EventBridgeClient[] = [];

  function client(maxAttempts = 1, endpoint: string | undefined = double.url): EventBridgeClient {
    const c = new EventBridgeClient({ region: 'us-east-1', credentials: CREDENTIALS, maxAttempts, ...(endpoint ? { endpoint } : {}) });
    clients.push(c);
    return c;
  }

  beforeAll(async () => {
    double = await startEventBridgeServer();
  });

  afterEach(() => {
    for (const c of clients.splice(0)) c.destroy();
    vi.unstubAllEnvs();
    double.reset();
  });

  afterAll(async () => {
    await double.close();
  });

  describe('Method: publishSnapshot', () => {
    it('publishes one entry that arrives with the contract source, detail-type, bus and detail', async () => {
      // Prepare
      const publisher = new EventBridgeSnapshotPublisher(client(3), BUS);

      // Act
      await publisher.publishSnapshot(update);

      // Assess
      expect(double.requests).toBe(1);
      expect(double.entries).toHaveLength(1);
      expect(double.entries[0]).toMatchObject({
        EventBusName: BUS,
        Source: 'galaxy.gamemaster',
        DetailType: 'runtime_snapshot_update',
        detail: update,
        mode: 'ok',
      });
      expect(Object.keys(double.entries[0]?.raw ?? {}).sort()).toEqual(['Detail', 'DetailType', 'EventBusName', 'Source']);
      expect(double.accepted()).toHaveLength(1);
    });

    it('finds the double through AWS_ENDPOINT_URL_EVENTBRIDGE, as npm start does', async () => {
      // Prepare
      vi.stubEnv('AWS_ENDPOINT_URL_EVENTBRIDGE', double.url);
      const publisher = new EventBridgeSnapshotPublisher(client(1, undefined), BUS);

      // Act
      await publisher.publishSnapshot(update);

      // Assess
      expect(double.accepted().map((e) => e.detail)).toEqual([update]);
    });

    it('rejects when the entry is refused with HTTP 200 and FailedEntryCount 1', async () => {
      // Prepare
      double.mode = 'failed-entry';
      const publisher = new EventBridgeSnapshotPublisher(client(3), BUS);

      // Act
      const error = await publisher.publishSnapshot(update).catch((e: unknown) => e);

      // Assess
      expect(error).toBeInstanceOf(SnapshotPublishError);
      expect(error).toMatchObject({
        message: 'publish runtime_snapshot_update: 1 entry failed (ErrorCode InternalFailure)',
        cause: { ErrorCode: 'InternalFailure', ErrorMessage: 'double refused the entry' },
      });
      // A refused entry is an answer, not a transport failure: the SDK does not retry it.
      expect(double.requests).toBe(1);
      expect(double.accepted()).toEqual([]);
    });

    it('rejects in its own words when EventBridge answers 500', async () => {
      // Prepare
      double.mode = 'http-500';
      const publisher = new EventBridgeSnapshotPublisher(client(1), BUS);

      // Act
      const error = await publisher.publishSnapshot(update).catch((e: unknown) => e);

      // Assess
      expect(error).toBeInstanceOf(SnapshotPublishError);
      expect((error as Error).message).toBe('publish runtime_snapshot_update: request failed');
      expect((error as Error).cause).toMatchObject({ name: 'InternalException', $metadata: { httpStatusCode: 500 } });
      expect(double.requests).toBe(1);
    });

    it('lets the SDK retry a 500 up to maxAttempts', async () => {
      // Prepare
      double.mode = 'http-500';
      const publisher = new EventBridgeSnapshotPublisher(client(2), BUS);

      // Act & Assess
      await expect(publisher.publishSnapshot(update)).rejects.toThrow('publish runtime_snapshot_update: request failed');
      expect(double.requests).toBe(2);
    });

    it('gives up after timeoutMs when EventBridge never answers', async () => {
      // Prepare
      double.mode = 'hang';
      const publisher = new EventBridgeSnapshotPublisher(client(3), BUS, { timeoutMs: 300 });
      const started = performance.now();

      // Act
      const error = await publisher.publishSnapshot(update).catch((e: unknown) => e);

      // Assess
      const elapsed = performance.now() - started;
      expect(error).toBeInstanceOf(SnapshotPublishError);
      expect((error as Error).message).toBe('publish runtime_snapshot_update: timed out after 300 ms');
      expect(elapsed).toBeGreaterThanOrEqual(250);
      expect(elapsed).toBeLessThan(2000);
      expect(double.requests).toBe(1);
    });

    it('stops when the caller aborts', async () => {
      // Prepare
      double.mode = 'hang';
      const publisher = new EventBridgeSnapshotPublisher(client(1), BUS, { timeoutMs: 10_000 });
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);

      // Act & Assess
      await expect(publisher.publishSnapshot(update, controller.signal)).rejects.toThrow(
        'publish runtime_snapshot_update: cancelled',
      );
    });

    it('follows a mode switched at run time', async () => {
      // Prepare
      const publisher = new EventBridgeSnapshotPublisher(client(1), BUS);
      double.mode = 'http-500';
      await expect(publisher.publishSnapshot(update)).rejects.toThrow(SnapshotPublishError);

      // Act
      double.mode = 'ok';
      await publisher.publishSnapshot(update);

      // Assess
      expect(double.entries.map((e) => e.mode)).toEqual(['http-500', 'ok']);
      expect(double.accepted()).toHaveLength(1);
    });
  });
});
