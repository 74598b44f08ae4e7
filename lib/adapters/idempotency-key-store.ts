/**
 * The idempotency key table: Powertools idempotency's DynamoDB persistence
 * layer (its layout: key `id`, TTL `expiration`), with what Safe retries
 * needs beyond it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { IdempotencyItemAlreadyExistsError, IdempotencyRecordStatus } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { IdempotencyRecord } from '@aws-lambda-powertools/idempotency/persistence';
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { Log } from '../ports.ts';

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
 * taking of a key: the identity of the call that holds it. The completed
 * item keeps it: it names the call whose answer it holds, and the SDK's
 * retry of a completion that landed unseen still finds the item its own.
 */
export const CALL_TOKEN_ATTR = 'call_token';

/** What Powertools hands the persistence layer's public methods: the call's payload. */
type Payload = Parameters<DynamoDBPersistenceLayer['saveInProgress']>[0];

/**
 * The DynamoDB persistence layer, with three additions:
 * - the in-progress item carries the taking call's own token, so that a
 *   Put that meets an existing item can tell "my own Put, landed, whose
 *   answer was lost (the SDK retried it)" from "another call's";
 * - releasing (Delete) and completing (Update) a key are conditional on
 *   that token: a call whose deadline passed may have lost the key to a
 *   retry that re-took it (Powertools lets a Put take a key whose holder's
 *   in-progress expiry passed), and its late release or completion must
 *   not free or overwrite the retry's item. In Lambda this is the usual
 *   case, not a race: once the deadline guard answered, the environment is
 *   frozen with the call's release pending, which runs on thaw, during the
 *   next invocation;
 * - it keeps the in-progress expiry of the record that refused a key
 *   (Powertools' in-progress error carries none), for Retry-After.
 */
export class KeyStore extends DynamoDBPersistenceLayer {
  readonly #inProgressUntil = new Map<string, number>();
  /**
   * The token of the key each call took, by call. One KeyStore serves every
   * call of a Lambda environment, one after another, and a call frozen
   * mid-flight resumes during a later one that may hold the same key (same
   * hash) under its own token: so a token is remembered per call, not per
   * key. A call is its payload object: Powertools hands the same object to
   * saveInProgress, deleteRecord and saveSuccess for one call.
   */
  readonly #tokens = new WeakMap<object, string>();
  /** Calls whose key was completed or released already (their token handed out). */
  readonly #settled = new WeakSet<object>();
  /** Which call the record methods below run for (Powertools' records do not say). */
  readonly #call = new AsyncLocalStorage<object | undefined>();
  readonly #dynamo: DynamoDBClient;
  readonly #table: string;
  readonly #log: Log;

  constructor(dynamo: DynamoDBClient, tableName: string, log: Log) {
    super({ tableName, awsSdkV3Client: dynamo });
    this.#dynamo = dynamo;
    this.#table = tableName;
    this.#log = log;
  }

  override saveInProgress(data: Payload, remainingTimeInMillis?: number): Promise<void> {
    return this.#call.run(callOf(data), () => super.saveInProgress(data, remainingTimeInMillis));
  }

  override deleteRecord(data: Payload): Promise<void> {
    return this.#call.run(callOf(data), () => super.deleteRecord(data));
  }

  override saveSuccess(data: Payload, result: Payload): Promise<void> {
    return this.#call.run(callOf(data), () => super.saveSuccess(data, result));
  }

  /**
   * Powertools' conditional Put (same item, same condition), plus the
   * token. The token is drawn here, once per call of _putRecord, which
   * Powertools makes once per taking of a key: two calls, even with one
   * body and one deadline millisecond, or one after another on this same
   * instance, never share it; the SDK's retries of this one Put resend the
   * same item, so they do. Once the key is taken, the token is remembered
   * for the call, to release or complete the key with.
   */
  protected override async _putRecord(record: IdempotencyRecord): Promise<void> {
    const token = randomUUID();
    const call = this.#call.getStore();
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
      if (call) this.#tokens.set(call, token);
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const old = err.Item ? unmarshall(err.Item) : undefined;
      // The SDK retried this Put after it landed and its answer was lost:
      // the item in the way carries this call's own token, so the key is taken.
      if (old?.[CALL_TOKEN_ATTR] === token && old[ATTR.status] === IdempotencyRecordStatus.INPROGRESS) {
        if (call) this.#tokens.set(call, token);
        return;
      }
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

  /**
   * Powertools' Delete (releasing the key after the operation failed),
   * made conditional on the call's own token: if the key was re-taken by
   * another call after this one's deadline, or is already gone (the SDK's
   * retry of this Delete, which landed unseen), the Delete is refused and
   * nothing is done: the key is not this call's to release, and the
   * operation's answer stands.
   */
  protected override async _deleteRecord(record: IdempotencyRecord): Promise<void> {
    const token = this.#takeToken(record, 'release');
    if (token === undefined) return;
    try {
      await this.#dynamo.send(
        new DeleteItemCommand({
          TableName: this.#table,
          Key: this.getKey(record.idempotencyKey),
          ConditionExpression: '#call_token = :call_token',
          ExpressionAttributeNames: { '#call_token': CALL_TOKEN_ATTR },
          ExpressionAttributeValues: { ':call_token': { S: token } },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      this.#notOurs(record, 'release', err);
    }
  }

  /**
   * Powertools' Update (completing the key with the answer to remember:
   * same attributes, same values), made conditional on the call's own
   * token, which the completed item keeps. Refused when the key was
   * re-taken by another call after this one's deadline (the retry's item
   * stands; this call's answer is not remembered, and stands), or is gone
   * (an Update never recreates it).
   */
  protected override async _updateRecord(record: IdempotencyRecord): Promise<void> {
    const token = this.#takeToken(record, 'completion');
    if (token === undefined) return;
    const fields = ['#expiry = :expiry', '#status = :status'];
    const names: Record<string, string> = { '#expiry': ATTR.expiry, '#status': ATTR.status, '#call_token': CALL_TOKEN_ATTR };
    const values: Record<string, unknown> = { ':expiry': record.expiryTimestamp, ':status': record.getStatus(), ':call_token': token };
    if (record.responseData !== undefined) {
      fields.push('#response_data = :response_data');
      names['#response_data'] = ATTR.data;
      values[':response_data'] = record.responseData;
    }
    if (this.isPayloadValidationEnabled()) {
      fields.push('#validation_key = :validation_key');
      names['#validation_key'] = ATTR.validation;
      values[':validation_key'] = record.payloadHash;
    }
    try {
      await this.#dynamo.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: this.getKey(record.idempotencyKey),
          UpdateExpression: `SET ${fields.join(', ')}`,
          ConditionExpression: '#call_token = :call_token',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: marshall(values),
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) {
        // Not refused, not known to have landed: the call keeps its token,
        // so that a later completion of the same call (its own, after the
        // deadline guard's) can still try; the condition makes a repeat of
        // a completion that landed unseen harmless.
        this.#giveBack(token);
        throw err;
      }
      this.#notOurs(record, 'completion', err);
    }
  }

  /** Hands a token back to the running call, as if it had not been taken. */
  #giveBack(token: string): void {
    const call = this.#call.getStore();
    if (call === undefined) return;
    this.#tokens.set(call, token);
    this.#settled.delete(call);
  }

  /**
   * The running call's token, forgotten as it is handed out: a call
   * releases or completes its key once. Without one (this call never took
   * the key), there is nothing of this call's to write.
   */
  #takeToken(record: IdempotencyRecord, what: 'release' | 'completion'): string | undefined {
    const call = this.#call.getStore();
    const token = call && this.#tokens.get(call);
    if (call) this.#tokens.delete(call);
    if (token !== undefined && call) this.#settled.add(call);
    // Completed already for this call (the deadline guard saved its answer):
    // nothing more to write, and nothing wrong.
    else if (call && this.#settled.has(call)) return undefined;
    else this.#log.warn(`idempotency key ${what} skipped: the key was not taken by this call`, { idempotency_key: record.idempotencyKey });
    return token;
  }

  /** A refused release or completion: the key is no longer this call's; said, and left alone. */
  #notOurs(record: IdempotencyRecord, what: 'release' | 'completion', err: ConditionalCheckFailedException): void {
    const now = err.Item ? unmarshall(err.Item) : undefined;
    if (now === undefined) {
      this.#log.info(`idempotency key ${what} refused: the key is already free`, { idempotency_key: record.idempotencyKey });
      return;
    }
    this.#log.warn(`idempotency key ${what} refused: the key was re-taken by another call after this one's deadline`, {
      idempotency_key: record.idempotencyKey,
      status: now[ATTR.status],
    });
  }

  /** The refusing record's in-progress expiry (epoch ms), read once. */
  takeInProgressUntil(payload: KeyedPayload): number | undefined {
    const key = this.getHashedIdempotencyKey(payload as unknown as Parameters<DynamoDBPersistenceLayer['getHashedIdempotencyKey']>[0]);
    const until = this.#inProgressUntil.get(key);
    this.#inProgressUntil.delete(key);
    return until;
  }
}

/** A call's identity: its payload object (a payload that is no object has none). */
function callOf(data: Payload): object | undefined {
  return typeof data === 'object' && data !== null ? data : undefined;
}
