/**
 * OutboxReader on DynamoDB: one consistent BatchGetItem for a batch of
 * stream records (at most 10 keys here, well under its 100), with the keys
 * DynamoDB left unprocessed (throttling, size) asked again a few times.
 */
import { BatchGetCommand, type BatchGetCommandOutput, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { StoredOutboxItem } from '../domain/outbox-item.ts';
import type { OutboxReader } from '../ports.ts';
import { storeError } from './dynamodb-conditions.ts';

/** BatchGetItem takes at most 100 keys. */
const MAX_KEYS = 100;
/** Rounds for unprocessed keys; what is still unread after them fails its record (the stream retries it). */
const ROUNDS = 3;

export class DynamoOutboxReader implements OutboxReader {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    /** Waits between rounds; a test passes one that does not wait. */
    private readonly pause: (round: number) => Promise<void> = (round) => new Promise((r) => setTimeout(r, 50 * 2 ** round)),
  ) {}

  async read(eventIds: readonly string[], signal?: AbortSignal): Promise<{ found: Map<string, StoredOutboxItem>; unread: Set<string> }> {
    const found = new Map<string, StoredOutboxItem>();
    let pending = [...new Set(eventIds)];
    if (pending.length > MAX_KEYS) throw new RangeError(`at most ${MAX_KEYS} outbox keys per read, got ${pending.length}`);
    for (let round = 0; round < ROUNDS && pending.length > 0; round++) {
      if (round > 0) await this.pause(round);
      let res: BatchGetCommandOutput;
      try {
        res = await this.doc.send(
          new BatchGetCommand({
            RequestItems: {
              // Consistent: an item deleted (by hand) must be seen as gone.
              [this.table]: { Keys: pending.map((event_id) => ({ event_id })), ConsistentRead: true },
            },
          }),
          { abortSignal: signal },
        );
      } catch (err) {
        throw storeError('read outbox items', err);
      }
      for (const item of res.Responses?.[this.table] ?? []) found.set(String(item.event_id), item);
      pending = (res.UnprocessedKeys?.[this.table]?.Keys ?? []).map((k) => String(k.event_id));
    }
    return { found, unread: new Set(pending) };
  }
}
