/**
 * Removing one operation's player mappings: shared by the registration's
 * rollback (RegistrationCommitter) and the reconciler
 * (StartingRecordReclaimer). Only rows carrying the operation's op_id are
 * deleted, each conditionally on it: a mapping some other operation wrote
 * is never touched.
 *
 * Cost: the rows are found by one consistent query (filtered on op_id),
 * then deleted in transactions of up to 100 conditional deletes (a
 * 500-member roster: 5 requests, not 500). A transaction is all or
 * nothing: one refused condition cancels it whole. Since every row was
 * just read carrying op_id, a refusal means a row changed or went away
 * meanwhile (another rollback, the reconciler, a retried transaction that
 * had landed): that chunk falls back to single conditional deletes, each
 * of which settles its own row.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient, paginateQuery, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { ifOwned, MAX_TRANSACTION_ACTIONS, storeError } from './dynamodb-conditions.ts';

/** Delete transactions in flight at once (a 500-member roster is 5 of them). */
const TRANSACTION_CONCURRENCY = 5;
/** Concurrent single-item deletes when a chunk falls back to them. */
const DELETE_CONCURRENCY = 16;

/** Runs fn over items with at most `limit` in flight; rejects with the first failure after all settle. */
async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let firstError: unknown;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (err) {
        firstError ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (firstError !== undefined) throw firstError;
}

function chunksOf<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/** Deletes the mappings of a game that carry an operation id. */
export async function deleteMappingsOf(
  doc: DynamoDBDocumentClient,
  table: string,
  gameId: string,
  opId: string,
  signal?: AbortSignal,
): Promise<void> {
  const userIds: string[] = [];
  try {
    const pages = paginateQuery(
      { client: doc },
      {
        TableName: table,
        KeyConditionExpression: 'game_id = :g',
        FilterExpression: 'op_id = :op',
        ExpressionAttributeValues: { ':g': gameId, ':op': opId },
        ProjectionExpression: 'user_id',
        ConsistentRead: true,
      },
      { abortSignal: signal },
    );
    for await (const page of pages) for (const item of page.Items ?? []) userIds.push(String(item.user_id));
  } catch (err) {
    throw storeError('find player mappings', err);
  }
  const condition = { ConditionExpression: 'op_id = :op', ExpressionAttributeValues: { ':op': opId } };
  await forEachLimited(chunksOf(userIds, MAX_TRANSACTION_ACTIONS), TRANSACTION_CONCURRENCY, async (chunk) => {
    try {
      await doc.send(
        new TransactWriteCommand({
          TransactItems: chunk.map((userId) => ({ Delete: { TableName: table, Key: { game_id: gameId, user_id: userId }, ...condition } })),
        }),
        { abortSignal: signal },
      );
      return;
    } catch (err) {
      // Cancelled (a row changed meanwhile, or a conflicting write): settle
      // this chunk row by row. Anything else is a store failure.
      if (!(err instanceof TransactionCanceledException)) throw storeError('delete player mappings', err);
    }
    await forEachLimited(chunk, DELETE_CONCURRENCY, (userId) =>
      ifOwned(
        doc,
        new DeleteCommand({ TableName: table, Key: { game_id: gameId, user_id: userId }, ...condition }),
        'delete player mappings',
        signal,
      ),
    );
  });
}
