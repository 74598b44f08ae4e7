/**
 * RegistrationCommitter on DynamoDB: the mappings, the starting -> running
 * compare-and-set and the success entry, in one transaction when they fit.
 */
import { type DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { PlayerMapping } from '../domain/runtime-record.ts';
import type { CommitRegistration, RegistrationCommitter } from '../ports.ts';
import { MAX_TRANSACTION_ACTIONS, storeError, type TableNames, type TransactItem } from './dynamodb-conditions.ts';
import { operationLogPut } from './operation-log-store.ts';
import { deleteMappingsOf } from './player-mapping-rows.ts';

export class DynamoRegistrationCommitter implements RegistrationCommitter {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tables: TableNames,
  ) {}

  async commit(input: CommitRegistration, signal?: AbortSignal): Promise<void> {
    const puts = input.mappings.map((m) => this.mappingPut(m, input.opId));
    const finalActions: TransactItem[] = [this.casToRunning(input), { Put: operationLogPut(this.tables.operationLog, input.successEntry) }];
    // What does not fit beside the compare-and-set and the audit entry goes
    // first, in chunks; those chunks are this operation's rows (op_id) and
    // the caller's rollback removes them if anything later fails.
    const room = MAX_TRANSACTION_ACTIONS - finalActions.length;
    const early = puts.slice(0, Math.max(0, puts.length - room));
    const last = puts.slice(early.length);
    for (let i = 0; i < early.length; i += MAX_TRANSACTION_ACTIONS) {
      await this.transact(early.slice(i, i + MAX_TRANSACTION_ACTIONS), 'write player mappings', signal);
    }
    await this.transact([...last, ...finalActions], 'commit runtime record', signal);
  }

  async deleteOwnedMappings(gameId: string, opId: string, signal?: AbortSignal): Promise<void> {
    await deleteMappingsOf(this.doc, this.tables.playerMappings, gameId, opId, signal);
  }

  private mappingPut(mapping: PlayerMapping, opId: string): TransactItem {
    return {
      Put: {
        TableName: this.tables.playerMappings,
        Item: { ...mapping, op_id: opId },
        // A mapping that exists belongs to someone else: `conflict`, never overwritten.
        ConditionExpression: 'attribute_not_exists(game_id)',
      },
    };
  }

  private casToRunning(input: CommitRegistration): TransactItem {
    return {
      Update: {
        TableName: this.tables.runtimeRecords,
        Key: { game_id: input.gameId },
        UpdateExpression:
          'SET #status = :running, next_generation_at = :next, skip_next_tick = :false, current_turn = :zero, updated_at = :now REMOVE starting_marker',
        // starting -> running only for this operation's record, and only if
        // the reconciler has not marked it as abandoned: a registration that
        // was merely slow is refused here and rolls itself back.
        ConditionExpression: '#status = :starting AND op_id = :op AND attribute_not_exists(reclaim_started_at)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':running': 'running',
          ':starting': 'starting',
          ':op': input.opId,
          ':next': input.running.next_generation_at,
          ':false': false,
          ':zero': 0,
          ':now': input.running.updated_at,
        },
      },
    };
  }

  private async transact(items: TransactItem[], step: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.doc.send(new TransactWriteCommand({ TransactItems: items }), { abortSignal: signal });
    } catch (err) {
      throw storeError(step, err, `${step}: a player mapping exists or the runtime record changed`);
    }
  }
}
