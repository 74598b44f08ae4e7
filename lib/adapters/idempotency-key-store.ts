/**
 * The idempotency key table: Powertools idempotency's DynamoDB persistence
 * layer (its layout: key `id`, TTL `expiration`), with what Safe retries
 * needs beyond it.
 */
import { IdempotencyItemAlreadyExistsError, IdempotencyRecordStatus } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { IdempotencyRecord } from '@aws-lambda-powertools/idempotency/persistence';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** What a keyed call hands Powertools: the key, and the raw body bytes (base64) that "same body" compares. */
export interface KeyedPayload {
  key: string;
  body: string;
}

/**
 * The DynamoDB persistence layer, keeping the in-progress expiry of the
 * record that refused a key (Powertools' in-progress error carries none),
 * for Retry-After.
 */
export class KeyStore extends DynamoDBPersistenceLayer {
  readonly #inProgressUntil = new Map<string, number>();

  constructor(client: DynamoDBClient, tableName: string) {
    super({ tableName, awsSdkV3Client: client });
  }

  protected override async _putRecord(record: IdempotencyRecord): Promise<void> {
    try {
      await super._putRecord(record);
    } catch (err) {
      const existing = err instanceof IdempotencyItemAlreadyExistsError ? err.existingRecord : undefined;
      if (existing?.inProgressExpiryTimestamp !== undefined && existing.getStatus() === IdempotencyRecordStatus.INPROGRESS) {
        // The SDK retried a Put whose answer was lost after it landed: the
        // record in the way is this call's own (same body hash, same
        // deadline to the millisecond), so the key is taken.
        if (existing.inProgressExpiryTimestamp === record.inProgressExpiryTimestamp && existing.payloadHash === record.payloadHash) return;
        this.#inProgressUntil.set(record.idempotencyKey, existing.inProgressExpiryTimestamp);
      }
      throw err;
    }
  }

  /** The refusing record's in-progress expiry (epoch ms), read once. */
  takeInProgressUntil(payload: KeyedPayload): number | undefined {
    const key = this.getHashedIdempotencyKey(payload as unknown as Parameters<DynamoDBPersistenceLayer['getHashedIdempotencyKey']>[0]);
    const until = this.#inProgressUntil.get(key);
    this.#inProgressUntil.delete(key);
    return until;
  }
}
