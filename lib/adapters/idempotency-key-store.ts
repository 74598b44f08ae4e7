/**
 * The idempotency key table: Powertools idempotency's DynamoDB persistence
 * layer (its layout: key `id`, TTL `expiration`), with what Safe retries
 * needs beyond it.
 */
import { randomUUID } from 'node:crypto';
import { IdempotencyItemAlreadyExistsError, IdempotencyRecordStatus } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { IdempotencyRecord } from '@aws-lambda-powertools/idempotency/persistence';
import { type AttributeValue, ConditionalCheckFailedException, type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';

/** What a keyed call hands Powertools: the key, and the raw body bytes (base64) that "same body" compares. */
export interface KeyedPayload {
  key: string;
  body: string;
}

/**
 * Powertools' attribute names (its defaults, spelled out because its layer
 * keeps them private and this class writes the in-progress item itself).
 */
const ATTR = {
  key: 'id',
  expiry: 'expiration',
  inProgressExpiry: 'in_progress_expiration',
  status: 'status',
  data: 'data',
  validation: 'validation',
} as const;

/**
 * Added to Powertools' in-progress item (additive: Powertools reads the
 * item by its own attributes and ignores this one). A random token per
 * taking of a key: the identity of the call that holds it.
 */
export const CALL_TOKEN_ATTR = 'call_token';

/**
 * The DynamoDB persistence layer, with two additions:
 * - the in-progress item carries the taking call's own token, so that a
 *   Put that meets an existing item can tell "my own Put, landed, whose
 *   answer was lost (the SDK retried it)" from "another call's";
 * - it keeps the in-progress expiry of the record that refused a key
 *   (Powertools' in-progress error carries none), for Retry-After.
 */
export class KeyStore extends DynamoDBPersistenceLayer {
  readonly #inProgressUntil = new Map<string, number>();
  readonly #dynamo: DynamoDBClient;
  readonly #table: string;

  constructor(dynamo: DynamoDBClient, tableName: string) {
    super({ tableName, awsSdkV3Client: dynamo });
    this.#dynamo = dynamo;
    this.#table = tableName;
  }

  /**
   * Powertools' conditional Put (same item, same condition), plus the
   * token. The token is drawn here, once per call of _putRecord, which
   * Powertools makes once per taking of a key: two calls, even with one
   * body and one deadline millisecond, or one after another on this same
   * instance, never share it; the SDK's retries of this one Put resend the
   * same item, so they do.
   */
  protected override async _putRecord(record: IdempotencyRecord): Promise<void> {
    const token = randomUUID();
    const item: Record<string, AttributeValue> = {
      ...this.getKey(record.idempotencyKey),
      [ATTR.expiry]: { N: String(record.expiryTimestamp ?? 0) },
      [ATTR.status]: { S: record.getStatus() },
      [CALL_TOKEN_ATTR]: { S: token },
    };
    if (record.inProgressExpiryTimestamp !== undefined) item[ATTR.inProgressExpiry] = { N: String(record.inProgressExpiryTimestamp) };
    if (this.isPayloadValidationEnabled() && record.payloadHash !== undefined) item[ATTR.validation] = { S: record.payloadHash };
    const now = Date.now();
    try {
      await this.#dynamo.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: item,
          // Powertools' condition: the key is free, expired, or held by a
          // call whose deadline has passed.
          ConditionExpression:
            'attribute_not_exists(#id) OR #expiry < :now OR (#status = :inprogress AND attribute_exists(#in_progress_expiry) AND #in_progress_expiry < :now_in_millis)',
          ExpressionAttributeNames: {
            '#id': ATTR.key,
            '#expiry': ATTR.expiry,
            '#in_progress_expiry': ATTR.inProgressExpiry,
            '#status': ATTR.status,
          },
          ExpressionAttributeValues: {
            ':now': { N: String(now / 1000) },
            ':now_in_millis': { N: String(now) },
            ':inprogress': { S: IdempotencyRecordStatus.INPROGRESS },
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const old = err.Item ? unmarshall(err.Item) : undefined;
      // The SDK retried this Put after it landed and its answer was lost:
      // the item in the way carries this call's own token, so the key is taken.
      if (old?.[CALL_TOKEN_ATTR] === token && old[ATTR.status] === IdempotencyRecordStatus.INPROGRESS) return;
      const existing =
        old &&
        new IdempotencyRecord({
          idempotencyKey: old[ATTR.key],
          status: old[ATTR.status],
          expiryTimestamp: old[ATTR.expiry],
          inProgressExpiryTimestamp: old[ATTR.inProgressExpiry],
          responseData: old[ATTR.data],
          payloadHash: old[ATTR.validation],
        });
      if (existing?.inProgressExpiryTimestamp !== undefined && existing.getStatus() === IdempotencyRecordStatus.INPROGRESS) {
        this.#inProgressUntil.set(record.idempotencyKey, existing.inProgressExpiryTimestamp);
      }
      throw new IdempotencyItemAlreadyExistsError(`Failed to put record for already existing idempotency key: ${record.idempotencyKey}`, existing);
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
