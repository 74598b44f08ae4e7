/** OperationLogStore on DynamoDB: append-only audit entries. */
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { OperationEntry } from '../domain/operation.ts';
import type { OperationLogStore } from '../ports.ts';
import { conditionRefused, storeError } from './dynamodb-conditions.ts';

/**
 * The operation-log Put: never overwrites another operation's entry. A
 * failure entry may replace the success entry of its own operation (same
 * op_id): that happens when the commit landed but its answer was lost, and
 * the rollback then removed what the commit wrote.
 */
export function operationLogPut(table: string, entry: OperationEntry) {
  if (entry.outcome === 'failure') {
    return {
      TableName: table,
      Item: entry,
      ConditionExpression: 'attribute_not_exists(op_id) OR outcome = :success',
      ExpressionAttributeValues: { ':success': 'success' },
    };
  }
  return { TableName: table, Item: entry, ConditionExpression: 'attribute_not_exists(op_id)' };
}

export class DynamoOperationLogStore implements OperationLogStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async append(entry: OperationEntry, signal?: AbortSignal): Promise<void> {
    try {
      await this.doc.send(new PutCommand(operationLogPut(this.table, entry)), { abortSignal: signal });
    } catch (err) {
      // op_ids are unique per operation: a refused condition means this very
      // entry is already there (an SDK retry of a Put whose answer was lost).
      if (conditionRefused(err)) return;
      throw storeError('append operation log', err);
    }
  }
}
