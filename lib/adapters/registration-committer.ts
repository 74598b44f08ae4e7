/**
 * RegistrationCommitter on DynamoDB: the mappings, the starting -> running
 * compare-and-set, the success entry and the outbox item, in one
 * transaction when they fit; and the first step of undoing an attempted
 * commit (outbox item gone, record marked), also in one transaction.
 */
import { DeleteCommand, type DeleteCommandInput, type DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { PlayerMapping } from '../domain/runtime-record.ts';
import type { CommitRegistration, RegistrationCommitter } from '../ports.ts';
import { conditionRefused, MAX_TRANSACTION_ACTIONS, storeError, type TableNames, type TransactItem } from './dynamodb-conditions.ts';
import { operationLogPut } from './operation-log-store.ts';
import { deleteMappingsOf } from './player-mapping-rows.ts';
import { STARTING_MARKER } from './runtime-record-store.ts';

export class DynamoRegistrationCommitter implements RegistrationCommitter {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tables: TableNames,
  ) {}

  async commit(input: CommitRegistration, signal?: AbortSignal): Promise<void> {
    const puts = input.mappings.map((m) => this.mappingPut(m, input.opId));
    const finalActions: TransactItem[] = [
      this.casToRunning(input),
      { Put: operationLogPut(this.tables.operationLog, input.successEntry) },
      this.outboxPut(input),
    ];
    // What does not fit beside the compare-and-set, the audit entry and the
    // outbox item (so 97 mappings at most in the final transaction) goes
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

  async abandon(gameId: string, opId: string, now: string, signal?: AbortSignal): Promise<void> {
    // Keyed by event_id = op_id: the key itself is the proof that the item is
    // this operation's. No condition: usually there is no item (the commit
    // did not land), and a condition would refuse exactly that case.
    const outboxDelete: TransactItem = { Delete: { TableName: this.tables.outbox, Key: { event_id: opId } } };
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            // First in intent: the relay sends a record only while its item
            // exists, so a commit that landed unseen is not announced.
            outboxDelete,
            {
              Update: {
                TableName: this.tables.runtimeRecords,
                Key: { game_id: gameId },
                UpdateExpression:
                  'SET #status = :starting, starting_marker = :marker, reclaim_started_at = if_not_exists(reclaim_started_at, :now)',
                ConditionExpression: 'op_id = :op',
                ExpressionAttributeNames: { '#status': 'status' },
                ExpressionAttributeValues: { ':starting': 'starting', ':marker': STARTING_MARKER, ':now': now, ':op': opId },
              },
            },
          ],
        }),
        { abortSignal: signal },
      );
    } catch (err) {
      if (!conditionRefused(err)) throw storeError('mark runtime record abandoned', err);
      // The record is not this operation's (or is gone): nothing to mark,
      // but make sure no item of this operation is left to announce.
      try {
        await this.doc.send(new DeleteCommand(outboxDelete.Delete as DeleteCommandInput), { abortSignal: signal });
      } catch (deleteErr) {
        throw storeError('delete outbox item', deleteErr);
      }
    }
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

  private outboxPut(input: CommitRegistration): TransactItem {
    return {
      Put: {
        TableName: this.tables.outbox,
        Item: { ...input.outbox },
        // event_id is the op_id: one item per operation, never overwritten.
        ConditionExpression: 'attribute_not_exists(event_id)',
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
