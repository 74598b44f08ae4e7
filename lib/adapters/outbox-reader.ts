/**
 * OutboxReader on DynamoDB: one consistent BatchGetItem for a batch of
 * stream records (at most 10 keys here, well under its 100), with the keys
 * DynamoDB left unprocessed (throttling, size) asked again a few times.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { StoredOutboxItem } from '../domain/outbox-item.ts';
import type { OutboxReader } from '../ports.ts';
import { batchGetPause, consistentBatchGet } from './dynamodb-conditions.ts';

/** Rounds for unprocessed keys; what is still unread after them fails its record (the stream retries it). */
const ROUNDS = 3;

export class DynamoOutboxReader implements OutboxReader {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    /** Waits between rounds; a test passes one that does not wait. */
    private readonly pause: (round: number) => Promise<void> = batchGetPause,
  ) {}

  async read(eventIds: readonly string[], signal?: AbortSignal): Promise<{ found: Map<string, StoredOutboxItem>; unread: Set<string> }> {
    // Consistent: an item deleted (by hand) must be seen as gone.
    const { found, unread } = await consistentBatchGet(
      this.doc,
      { table: this.table, keyName: 'event_id', keys: eventIds, step: 'read outbox items' },
      { rounds: ROUNDS, pause: this.pause, signal },
    );
    return { found, unread: new Set(unread) };
  }
}
