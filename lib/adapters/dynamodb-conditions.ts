/**
 * What every DynamoDB adapter shares: the document client, the translation
 * of SDK errors into port errors, and the op_id-guarded writes.
 *
 * Every refused condition becomes a StoreConflictError and every other
 * failure a StoreUnavailableError whose message names the step (the SDK
 * error is kept as `cause`, for logs only). Every row an operation writes
 * carries its `op_id`, so a rollback or the reconciler can prove that a
 * row is theirs before deleting it.
 */
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  type DeleteCommand,
  DynamoDBDocumentClient,
  type TransactWriteCommandInput,
  type UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Config } from '../config.ts';
import { type Page, StoreConflictError, StoreUnavailableError } from '../ports.ts';

/** DynamoDB's limit of actions in one TransactWriteItems. */
export const MAX_TRANSACTION_ACTIONS = 100;

/** The tables the DynamoDB adapters write and read (the idempotency table is Powertools'). */
export type TableNames = Omit<Config['tables'], 'idempotency'>;

export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

export function documentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/** True when a (transactional) write was refused by a condition (as opposed to throttling, conflicts, faults). */
export function conditionRefused(err: unknown): boolean {
  if (err instanceof ConditionalCheckFailedException) return true;
  if (err instanceof TransactionCanceledException) {
    return (err.CancellationReasons ?? []).some((r) => r.Code === 'ConditionalCheckFailed');
  }
  return false;
}

/** The port error for a failed request: conflict when a condition refused it and a conflict message is given. */
export function storeError(step: string, err: unknown, conflictMessage?: string): Error {
  if (conflictMessage !== undefined && conditionRefused(err)) return new StoreConflictError(conflictMessage, { cause: err });
  return new StoreUnavailableError(`${step}: store request failed`, { cause: err });
}

/**
 * A write conditioned on `op_id = :op`: only the operation that wrote a row
 * may change or delete it. A refused condition means the row is another
 * operation's, or gone already: nothing to do, not an error.
 */
export async function ifOwned(
  doc: DynamoDBDocumentClient,
  command: UpdateCommand | DeleteCommand,
  step: string,
  signal?: AbortSignal,
): Promise<void> {
  try {
    await doc.send(command as DeleteCommand, { abortSignal: signal });
  } catch (err) {
    if (conditionRefused(err)) return;
    throw storeError(step, err);
  }
}

/**
 * One page of a listing that asked DynamoDB for `limit + 1` items: the
 * extra item only says there is more, and the page continues after its
 * last item. Fewer items with a LastEvaluatedKey: DynamoDB's 1 MB answer
 * limit cut the page, which continues after that key. `keyName` is the
 * attribute the listing continues by (the sort key of a Query, the key of
 * a Scan).
 */
export function pageOf<T, K extends keyof T & string>(
  items: T[],
  limit: number,
  lastKey: Record<string, unknown> | undefined,
  keyName: K,
): Page<T> {
  if (items.length > limit) {
    const page = items.slice(0, limit);
    return { items: page, after: String(page[page.length - 1]?.[keyName]) };
  }
  return { items, after: lastKey === undefined ? undefined : String(lastKey[keyName]) };
}

/** BatchGetItem takes at most 100 keys. */
export const MAX_BATCH_GET_KEYS = 100;

/** Waits before round `round` (1, 2, ...) of a batch read: 50 ms, doubled each round. */
export const batchGetPause = (round: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, 50 * 2 ** round));

/**
 * Strongly consistent BatchGetItem of one table's items, keyed by one
 * string attribute (at most 100 keys). Keys DynamoDB leaves unprocessed
 * (throttling, size) are asked again, `rounds` requests in all, with
 * `pause` before each repeat; `unread` is what is left after them (never to
 * be taken as "not found"). A failed request is a store error naming `step`.
 */
export async function consistentBatchGet(
  doc: DynamoDBDocumentClient,
  request: { table: string; keyName: string; keys: readonly string[]; step: string },
  options: { rounds: number; pause?: (round: number) => Promise<void>; signal?: AbortSignal },
): Promise<{ found: Map<string, Record<string, unknown>>; unread: string[] }> {
  const { table, keyName, step } = request;
  const found = new Map<string, Record<string, unknown>>();
  let pending = [...new Set(request.keys)];
  if (pending.length > MAX_BATCH_GET_KEYS) throw new RangeError(`at most ${MAX_BATCH_GET_KEYS} keys per BatchGetItem, got ${pending.length}`);
  const pause = options.pause ?? batchGetPause;
  for (let round = 0; round < options.rounds && pending.length > 0; round++) {
    if (round > 0) await pause(round);
    let res: BatchGetCommandOutput;
    try {
      res = await doc.send(
        new BatchGetCommand({ RequestItems: { [table]: { Keys: pending.map((key) => ({ [keyName]: key })), ConsistentRead: true } } }),
        { abortSignal: options.signal },
      );
    } catch (err) {
      throw storeError(step, err);
    }
    for (const item of res.Responses?.[table] ?? []) found.set(String(item[keyName]), item);
    pending = (res.UnprocessedKeys?.[table]?.Keys ?? []).map((k) => String(k[keyName]));
  }
  return { found, unread: pending };
}
