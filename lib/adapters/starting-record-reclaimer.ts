/**
 * StartingRecordReclaimer on DynamoDB: what the reconciler reads and writes
 * to find and remove registrations abandoned in `starting`.
 */
import { type DynamoDBDocumentClient, paginateQuery, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { OperationEntry } from '../domain/operation.ts';
import type { StartingRecordReclaimer, StartingRecordRef } from '../ports.ts';
import { conditionRefused, storeError, type TableNames } from './dynamodb-conditions.ts';
import { operationLogPut } from './operation-log-store.ts';
import { deleteMappingsOf } from './player-mapping-rows.ts';
import { STARTING_INDEX, STARTING_MARKER } from './runtime-record-store.ts';

export class DynamoStartingRecordReclaimer implements StartingRecordReclaimer {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tables: TableNames,
  ) {}

  async findStartingBefore(cutoff: string): Promise<StartingRecordRef[]> {
    const refs: StartingRecordRef[] = [];
    try {
      const pages = paginateQuery(
        { client: this.doc },
        {
          TableName: this.tables.runtimeRecords,
          IndexName: STARTING_INDEX,
          KeyConditionExpression: 'starting_marker = :m AND created_at < :cutoff',
          ExpressionAttributeValues: { ':m': STARTING_MARKER, ':cutoff': cutoff },
        },
      );
      for await (const page of pages) {
        for (const item of page.Items ?? []) {
          refs.push({ game_id: String(item.game_id), op_id: String(item.op_id), created_at: String(item.created_at) });
        }
      }
    } catch (err) {
      throw storeError('find starting records', err);
    }
    return refs;
  }

  async oldestStartingCreatedAt(): Promise<string | undefined> {
    try {
      // The index sorts by created_at: the first entry is the oldest.
      const res = await this.doc.send(
        new QueryCommand({
          TableName: this.tables.runtimeRecords,
          IndexName: STARTING_INDEX,
          KeyConditionExpression: 'starting_marker = :m',
          ExpressionAttributeValues: { ':m': STARTING_MARKER },
          ProjectionExpression: 'created_at',
          Limit: 1,
        }),
      );
      const first = res.Items?.[0];
      return first === undefined ? undefined : String(first.created_at);
    } catch (err) {
      throw storeError('find oldest starting record', err);
    }
  }

  async markReclaiming(ref: StartingRecordRef, now: string): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tables.runtimeRecords,
          Key: { game_id: ref.game_id },
          // if_not_exists: a reclaim interrupted after its mark keeps the first mark.
          UpdateExpression: 'SET reclaim_started_at = if_not_exists(reclaim_started_at, :now)',
          // Still the same `starting` record: one that completed meanwhile, or a
          // newer registration of the game, is never touched.
          ConditionExpression: '#status = :starting AND op_id = :op',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':now': now, ':starting': 'starting', ':op': ref.op_id },
        }),
      );
      return true;
    } catch (err) {
      if (conditionRefused(err)) return false;
      throw storeError('mark starting record', err);
    }
  }

  async deleteOwnedMappings(gameId: string, opId: string): Promise<void> {
    await deleteMappingsOf(this.doc, this.tables.playerMappings, gameId, opId);
  }

  async deleteMarkedWithEntry(ref: StartingRecordRef, entry: OperationEntry): Promise<boolean> {
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Delete: {
                TableName: this.tables.runtimeRecords,
                Key: { game_id: ref.game_id },
                ConditionExpression: 'op_id = :op AND attribute_exists(reclaim_started_at)',
                ExpressionAttributeValues: { ':op': ref.op_id },
              },
            },
            // The audit entry commits with the delete: a reclaim can never be
            // half-audited, whatever interrupts it.
            { Put: operationLogPut(this.tables.operationLog, entry) },
          ],
        }),
      );
      return true;
    } catch (err) {
      if (conditionRefused(err)) return false;
      throw storeError('delete starting record', err);
    }
  }
}
