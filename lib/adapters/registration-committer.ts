/**
 * RegistrationCommitter on DynamoDB: the mappings, the starting -> running
 * compare-and-set, the success entry and the outbox item, in one
 * transaction when they fit; and the fence that settles an attempted
 * commit before anything of it is undone.
 */
import { ConditionalCheckFailedException, TransactionConflictException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { PlayerMapping } from '../domain/runtime-record.ts';
import type { CommitRegistration, RegistrationCommitter } from '../ports.ts';
import { MAX_TRANSACTION_ACTIONS, storeError, type TableNames, type TransactItem } from './dynamodb-conditions.ts';
import { operationLogPut } from './operation-log-store.ts';
import { deleteMappingsOf } from './player-mapping-rows.ts';

/**
 * This operation's `starting` record, not fenced or marked by the
 * reconciler: what every commit transaction requires. A registration that
 * was merely slow is refused here and rolls itself back.
 */
const STILL_STARTING = '#status = :starting AND op_id = :op AND attribute_not_exists(reclaim_started_at)';

/** Back-off between fences refused by the commit still executing (doubled, capped); the caller's signal bounds the whole. */
const FENCE_BACKOFF_MS = 20;
const FENCE_BACKOFF_MAX_MS = 200;
/** And a bound of its own, for a caller without a signal. */
const FENCE_MAX_ATTEMPTS = 30;

/** Waits `ms`, or less when the signal aborts (the next attempt then fails on the aborted signal). */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

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
    // Each early chunk also checks that the record is still this
    // operation's unfenced `starting` one: a chunk whose answer was lost
    // can then never land after the fence, behind the rollback's delete.
    const chunk = MAX_TRANSACTION_ACTIONS - 1;
    for (let i = 0; i < early.length; i += chunk) {
      await this.transact([...early.slice(i, i + chunk), this.stillStarting(input)], 'write player mappings', signal);
    }
    await this.transact([...last, ...finalActions], 'commit runtime record', signal);
  }

  async fence(gameId: string, opId: string, now: string, signal?: AbortSignal): Promise<'fenced' | 'landed'> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.doc.send(
          new UpdateCommand({
            TableName: this.tables.runtimeRecords,
            Key: { game_id: gameId },
            // The mark is what the commit's compare-and-set (and every mapping
            // chunk's condition check) refuses: once this lands, no commit
            // transaction of this operation can land. if_not_exists: an SDK
            // retry of a fence that landed unseen lands again, unchanged.
            UpdateExpression: 'SET reclaim_started_at = if_not_exists(reclaim_started_at, :now)',
            ConditionExpression: '#status = :starting AND op_id = :op',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':starting': 'starting', ':op': opId, ':now': now },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
          { abortSignal: signal },
        );
        return 'fenced';
      } catch (err) {
        if (err instanceof ConditionalCheckFailedException) {
          // `running` under this op_id: the commit landed. Anything else (gone,
          // another operation's record) can never become this operation's
          // `starting` record again: the commit cannot land.
          return err.Item?.status?.S === 'running' && err.Item.op_id?.S === opId ? 'landed' : 'fenced';
        }
        // The commit is still executing on the item (its last attempt, the
        // client having given up on it): the fence was not applied. A
        // definite "not yet", which the SDK does not retry: ask again, within
        // the caller's budget, until one of the two is ordered first.
        if (err instanceof TransactionConflictException && !signal?.aborted && attempt < FENCE_MAX_ATTEMPTS - 1) {
          await pause(Math.min(FENCE_BACKOFF_MAX_MS, FENCE_BACKOFF_MS * 2 ** attempt), signal);
          continue;
        }
        throw storeError('fence runtime record', err);
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

  private stillStarting(input: CommitRegistration): TransactItem {
    return {
      ConditionCheck: {
        TableName: this.tables.runtimeRecords,
        Key: { game_id: input.gameId },
        ConditionExpression: STILL_STARTING,
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':starting': 'starting', ':op': input.opId },
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
        ConditionExpression: STILL_STARTING,
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
