/**
 * DynamoDB adapters for the four stores (lib-dynamodb). Each condition
 * expression says why it is there; every refused condition becomes a
 * StoreConflictError and every other failure a StoreUnavailableError whose
 * message names the step (the SDK error is kept as `cause`, for logs only).
 *
 * Every row an operation writes carries its `op_id`, so a rollback or the
 * reconciler can prove that a row is theirs before deleting it.
 */
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Config } from '../config.ts';
import type { OperationEntry } from '../domain/operation.ts';
import type { PlayerMapping, RuntimeRecord } from '../domain/runtime-record.ts';
import {
  type CommitRegistration,
  type EngineVersionStore,
  type OperationLogStore,
  type RegistrationCommitter,
  type RuntimeRecordStore,
  type StartingRecordReclaimer,
  type StartingRecordRef,
  StoreConflictError,
  StoreUnavailableError,
} from '../ports.ts';

/** The sparse index of `starting` records (infra/tables.yml). */
export const STARTING_INDEX = 'starting_by_created_at';
/** Value of `starting_marker` while a record is `starting`; removed by the compare-and-set. */
export const STARTING_MARKER = 'starting';
/** DynamoDB's limit of actions in one TransactWriteItems. */
export const MAX_TRANSACTION_ACTIONS = 100;
/** Concurrent single-item deletes during a rollback or reclaim. */
const DELETE_CONCURRENCY = 16;

/** The tables this module writes and reads (the idempotency table is Powertools'). */
export type TableNames = Omit<Config['tables'], 'idempotency'>;

export function documentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/** True when a cancelled transaction was refused by a condition (as opposed to throttling, conflicts, faults). */
function conditionRefused(err: unknown): boolean {
  if (err instanceof ConditionalCheckFailedException) return true;
  if (err instanceof TransactionCanceledException) {
    return (err.CancellationReasons ?? []).some((r) => r.Code === 'ConditionalCheckFailed');
  }
  return false;
}

function storeError(step: string, err: unknown, conflictMessage?: string): Error {
  if (conflictMessage !== undefined && conditionRefused(err)) return new StoreConflictError(conflictMessage, { cause: err });
  return new StoreUnavailableError(`${step}: store request failed`, { cause: err });
}

/**
 * A write conditioned on `op_id = :op`: only the operation that wrote a row
 * may change or delete it. A refused condition means the row is another
 * operation's, or gone already: nothing to do, not an error.
 */
async function ifOwned(
  doc: DynamoDBDocumentClient,
  command: UpdateCommand | DeleteCommand,
  step: string,
  signal?: AbortSignal,
): Promise<void> {
  try {
    await doc.send(command as DeleteCommand, { abortSignal: signal });
  } catch (err) {
    if (conditionRefused(err)) return;
    throw storeError(step, err);
  }
}

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

export class DynamoRuntimeRecordStore implements RuntimeRecordStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async exists(gameId: string, signal?: AbortSignal): Promise<boolean> {
    try {
      const res = await this.doc.send(
        new GetCommand({ TableName: this.table, Key: { game_id: gameId }, ProjectionExpression: 'game_id', ConsistentRead: true }),
        { abortSignal: signal },
      );
      return res.Item !== undefined;
    } catch (err) {
      throw storeError('get runtime record', err);
    }
  }

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

  async markAbandoned(gameId: string, opId: string, now: string, signal?: AbortSignal): Promise<void> {
    await ifOwned(
      this.doc,
      new UpdateCommand({
        TableName: this.table,
        Key: { game_id: gameId },
        UpdateExpression:
          'SET #status = :starting, starting_marker = :marker, reclaim_started_at = if_not_exists(reclaim_started_at, :now)',
        ConditionExpression: 'op_id = :op',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':starting': 'starting', ':marker': STARTING_MARKER, ':now': now, ':op': opId },
      }),
      'mark runtime record abandoned',
      signal,
    );
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

export class DynamoEngineVersionStore implements EngineVersionStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async imageRef(version: string, signal?: AbortSignal): Promise<string | undefined> {
    let item: Record<string, unknown> | undefined;
    try {
      const res = await this.doc.send(
        new GetCommand({ TableName: this.table, Key: { version }, ProjectionExpression: 'image_ref' }),
        { abortSignal: signal },
      );
      item = res.Item;
    } catch (err) {
      throw storeError('get engine version', err);
    }
    if (item === undefined) return undefined;
    const ref = item.image_ref;
    if (typeof ref !== 'string' || ref.length === 0) {
      throw new StoreUnavailableError(`get engine version: version "${version}" has no image_ref`);
    }
    return ref;
  }
}

/**
 * The operation-log Put: never overwrites another operation's entry. A
 * failure entry may replace the success entry of its own operation (same
 * op_id): that happens when the commit landed but its answer was lost, and
 * the rollback then removed what the commit wrote.
 */
function operationLogPut(table: string, entry: OperationEntry) {
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

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** Deletes the mappings of a game that carry an operation id; shared by rollback and reconciler. */
async function deleteMappingsOf(
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
