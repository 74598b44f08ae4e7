/**
 * RuntimeRecordStore on DynamoDB: the runtime record's conditional insert
 * and the op_id-guarded writes of a rollback (its existence is read with
 * the engine version: registration-reads.ts).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { RuntimeRecord } from '../domain/runtime-record.ts';
import type { RuntimeRecordStore } from '../ports.ts';
import { ifOwned, storeError } from './dynamodb-conditions.ts';

/** The sparse index of `starting` records (infra/tables.yml). */
export const STARTING_INDEX = 'starting_by_created_at';
/** Value of `starting_marker` while a record is `starting`; removed by the compare-and-set. */
export const STARTING_MARKER = 'starting';

export class DynamoRuntimeRecordStore implements RuntimeRecordStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async insertStarting(record: RuntimeRecord, opId: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...record, op_id: opId, starting_marker: STARTING_MARKER },
          // One runtime per game: losing this race is `conflict`, and the
          // other caller's row is left exactly as it is.
          ConditionExpression: 'attribute_not_exists(game_id)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
        { abortSignal: signal },
      );
    } catch (err) {
      // The SDK retried a Put whose first answer was lost after it landed:
      // the row in the way is this operation's own insert, not a conflict.
      if (err instanceof ConditionalCheckFailedException && err.Item?.op_id?.S === opId) return;
      throw storeError('insert runtime record', err, 'runtime record already exists');
    }
  }

  async deleteOwned(gameId: string, opId: string, signal?: AbortSignal): Promise<void> {
    await ifOwned(
      this.doc,
      new DeleteCommand({
        TableName: this.table,
        Key: { game_id: gameId },
        ConditionExpression: 'op_id = :op',
        ExpressionAttributeValues: { ':op': opId },
      }),
      'delete runtime record',
      signal,
    );
  }
}
