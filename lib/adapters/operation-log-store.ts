/** OperationLogStore on DynamoDB: append-only audit entries. */
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { OperationEntry } from '../domain/operation.ts';
import type { OperationLogStore } from '../ports.ts';
import { conditionRefused, storeError } from './dynamodb-conditions.ts';

/** The operation-log Put: never overwrites an entry (op_ids are unique per operation). */
export function operationLogPut(table: string, entry: OperationEntry) {
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
      // Refused: this very entry is already there (an SDK retry of a Put
      // whose answer was lost); op_ids are unique, so it can be no other.
      if (!conditionRefused(err)) throw storeError('append operation log', err);
    }
  }
}
