/**
 * OperationLogReader on DynamoDB: one Query of the game's partition, newest
 * first (op_ids start with their ISO-8601 start time, so descending op_id
 * is newest first), strongly consistent.
 *
 * It asks for one entry more than the page holds: when that extra entry
 * comes back there is a next page, and the page's last entry is where it
 * starts; when it does not, this is the last page (no cursor that leads to
 * an empty page). The start key is always built here from the game asked
 * for and an op_id, never taken from the caller as a whole key.
 */
import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { OperationEntry } from '../domain/operation.ts';
import type { OperationLogReader, Page } from '../ports.ts';
import { pageOf, storeError } from './dynamodb-conditions.ts';

const ENTRY_FIELDS = [
  'game_id',
  'op_id',
  'op_kind',
  'op_source',
  'source_ref',
  'outcome',
  'error_code',
  'error_message',
  'started_at',
  'finished_at',
] as const satisfies readonly (keyof OperationEntry)[];

function toEntry(item: Record<string, unknown>): OperationEntry {
  const entry: Record<string, unknown> = {};
  for (const field of ENTRY_FIELDS) entry[field] = item[field];
  return entry as unknown as OperationEntry;
}

export class DynamoOperationLogReader implements OperationLogReader {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async newestFirst(gameId: string, limit: number, after?: string): Promise<Page<OperationEntry>> {
    let items: Record<string, unknown>[];
    let lastKey: Record<string, unknown> | undefined;
    try {
      const res = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'game_id = :g',
          ExpressionAttributeValues: { ':g': gameId },
          ScanIndexForward: false,
          Limit: limit + 1,
          ConsistentRead: true,
          ...(after === undefined ? {} : { ExclusiveStartKey: { game_id: gameId, op_id: after } }),
        }),
      );
      items = res.Items ?? [];
      lastKey = res.LastEvaluatedKey;
    } catch (err) {
      throw storeError('query operation log', err);
    }
    return pageOf(items.map(toEntry), limit, lastKey, 'op_id');
  }
}
