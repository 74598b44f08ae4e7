/**
 * Removing one operation's player mappings: shared by the registration's
 * rollback (RegistrationCommitter) and the reconciler
 * (StartingRecordReclaimer). Only rows carrying the operation's op_id are
 * deleted, each conditionally on it: a mapping some other operation wrote
 * is never touched.
 */
import { DeleteCommand, type DynamoDBDocumentClient, paginateQuery } from '@aws-sdk/lib-dynamodb';
import { ifOwned, storeError } from './dynamodb-conditions.ts';

/** Concurrent single-item deletes during a rollback or reclaim. */
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
  await forEachLimited(userIds, DELETE_CONCURRENCY, (userId) =>
    ifOwned(
      doc,
      new DeleteCommand({
        TableName: table,
        Key: { game_id: gameId, user_id: userId },
        ConditionExpression: 'op_id = :op',
        ExpressionAttributeValues: { ':op': opId },
      }),
      'delete player mappings',
      signal,
    ),
  );
}
