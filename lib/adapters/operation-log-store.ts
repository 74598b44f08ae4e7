/** OperationLogStore on DynamoDB: append-only audit entries. */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { OperationEntry } from '../domain/operation.ts';
import type { AppendOptions, AppendResult, OperationLogStore } from '../ports.ts';
import { conditionRefused, storeError } from './dynamodb-conditions.ts';

/**
 * The operation-log Put: never overwrites another operation's entry (op_ids
 * are unique per operation). A failure entry replaces the success entry of
 * its own operation only with `replaceOwnSuccess`: when the commit landed
 * unseen and the rollback has since undone what it wrote. Otherwise a
 * success entry in the way means the commit landed and stands.
 */
export function operationLogPut(table: string, entry: OperationEntry, options: AppendOptions = {}) {
  if (entry.outcome === 'failure' && options.replaceOwnSuccess === true) {
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

  async append(entry: OperationEntry, signal?: AbortSignal, options: AppendOptions = {}): Promise<AppendResult> {
    try {
      await this.doc.send(new PutCommand({ ...operationLogPut(this.table, entry, options), ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }), {
        abortSignal: signal,
      });
      return 'appended';
    } catch (err) {
      if (!conditionRefused(err)) throw storeError('append operation log', err);
      // The operation's own success entry is in the way of its failure
      // entry: its commit landed (the entry commits with it) and stands.
      const existing = err instanceof ConditionalCheckFailedException ? err.Item : undefined;
      if (entry.outcome === 'failure' && existing?.outcome?.S === 'success') return 'success_stands';
      // Otherwise this very entry is already there (an SDK retry of a Put
      // whose answer was lost).
      return 'appended';
    }
  }
}
