/**
 * RuntimeReader on DynamoDB: the runtime record (Get) and the game's player
 * mappings (Query, every page), both strongly consistent, so a read right
 * after a registration answered sees it; and the listing of `starting`
 * records (the reconciler's sparse index, then a consistent BatchGetItem).
 */
import { type DynamoDBDocumentClient, GetCommand, paginateQuery } from '@aws-sdk/lib-dynamodb';
import { RUNTIME_RECORD_FIELDS, type RuntimePlayer, type RuntimeRecord } from '../domain/runtime-record.ts';
import type { RuntimeReader, StartingKey, StartingRecordView } from '../ports.ts';
import { consistentBatchGet, storeError, type TableNames } from './dynamodb-conditions.ts';
import { STARTING_INDEX, STARTING_MARKER } from './runtime-record-store.ts';

/** Rounds of index keys per listing page (see startingRecords). */
const LISTING_ROUNDS = 4;
/** Rounds for keys BatchGetItem left unprocessed; then the page fails as unavailable. */
const BATCH_ROUNDS = 3;

export class DynamoRuntimeReader implements RuntimeReader {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tables: Pick<TableNames, 'runtimeRecords' | 'playerMappings'>,
  ) {}

  async record(gameId: string): Promise<RuntimeRecord | undefined> {
    let item: Record<string, unknown> | undefined;
    try {
      const res = await this.doc.send(new GetCommand({ TableName: this.tables.runtimeRecords, Key: { game_id: gameId }, ConsistentRead: true }));
      item = res.Item;
    } catch (err) {
      throw storeError('get runtime record', err);
    }
    if (item === undefined) return undefined;
    // Only the contract's fields: op_id, starting_marker and
    // reclaim_started_at are the store's bookkeeping, not the record.
    const record: Record<string, unknown> = {};
    for (const field of RUNTIME_RECORD_FIELDS) record[field] = item[field];
    return record as unknown as RuntimeRecord;
  }

  async players(gameId: string): Promise<RuntimePlayer[]> {
    const players: RuntimePlayer[] = [];
    try {
      const pages = paginateQuery(
        { client: this.doc },
        {
          TableName: this.tables.playerMappings,
          KeyConditionExpression: 'game_id = :g',
          ExpressionAttributeValues: { ':g': gameId },
          ProjectionExpression: 'user_id, race_name, engine_player_uuid',
          ConsistentRead: true,
        },
      );
      for await (const page of pages) {
        for (const item of page.Items ?? []) {
          players.push({ user_id: String(item.user_id), race_name: String(item.race_name), engine_player_uuid: String(item.engine_player_uuid) });
        }
      }
    } catch (err) {
      throw storeError('query player mappings', err);
    }
    return players;
  }

  async startingRecords(query: { createdAtUpTo: string; after: StartingKey | undefined; limit: number }): Promise<{
    items: StartingRecordView[];
    after: StartingKey | undefined;
  }> {
    const items: StartingRecordView[] = [];
    let position = query.after;
    // Index entries whose record left `starting` meanwhile are dropped after
    // the consistent read, so a round may fill less than the page; a few
    // rounds at most, then a shorter page with a cursor (never a long walk
    // inside one request).
    for (let round = 0; round < LISTING_ROUNDS; round++) {
      const { keys, more } = await this.startingKeysAfter(query.createdAtUpTo, position, query.limit - items.length);
      const records = await this.consistentRecords(keys.map((k) => k.game_id));
      for (const key of keys) {
        const item = records.get(key.game_id);
        // Still the same `starting` record the index named (not running, not
        // deleted, not a newer registration of the game).
        if (item === undefined || item.status !== 'starting' || item.starting_marker === undefined || item.created_at !== key.created_at) continue;
        const record: Record<string, unknown> = {};
        for (const field of RUNTIME_RECORD_FIELDS) record[field] = item[field];
        record.reclaim_started_at = typeof item.reclaim_started_at === 'string' ? item.reclaim_started_at : null;
        items.push(record as unknown as StartingRecordView);
      }
      if (!more) return { items, after: undefined };
      position = keys[keys.length - 1];
      if (items.length >= query.limit) break;
    }
    return { items, after: position };
  }

  /**
   * The next `need` index keys after `after`, in (created_at, game_id)
   * order, and whether any key is left beyond them. The index returns
   * created_at in order, but entries sharing a created_at in no defined
   * order: reading stops only once the created_at of the last entry read
   * is past the need-th key's, so a tie at the page boundary is never cut.
   */
  private async startingKeysAfter(upTo: string, after: StartingKey | undefined, need: number): Promise<{ keys: StartingKey[]; more: boolean }> {
    const seen: StartingKey[] = [];
    try {
      const pages = paginateQuery(
        { client: this.doc, pageSize: Math.min(need + 1, 100) },
        {
          TableName: this.tables.runtimeRecords,
          IndexName: STARTING_INDEX,
          KeyConditionExpression:
            after === undefined ? 'starting_marker = :m AND created_at <= :upTo' : 'starting_marker = :m AND created_at BETWEEN :from AND :upTo',
          ExpressionAttributeValues: { ':m': STARTING_MARKER, ':upTo': upTo, ...(after === undefined ? {} : { ':from': after.created_at }) },
          ProjectionExpression: 'game_id, created_at',
        },
      );
      for await (const page of pages) {
        for (const item of page.Items ?? []) {
          const key = { created_at: String(item.created_at), game_id: String(item.game_id) };
          if (after === undefined || compareStartingKeys(key, after) > 0) seen.push(key);
        }
        if (seen.length > need) {
          seen.sort(compareStartingKeys);
          const boundary = (seen[need - 1] as StartingKey).created_at;
          if ((seen[seen.length - 1] as StartingKey).created_at > boundary) break;
        }
      }
    } catch (err) {
      throw storeError('query starting records', err);
    }
    seen.sort(compareStartingKeys);
    return { keys: seen.slice(0, need), more: seen.length > need };
  }

  /** The records of `gameIds` (at most 100), strongly consistent; keys left unprocessed after the rounds fail the page. */
  private async consistentRecords(gameIds: readonly string[]): Promise<Map<string, Record<string, unknown>>> {
    const step = 'read starting records';
    const { found, unread } = await consistentBatchGet(
      this.doc,
      { table: this.tables.runtimeRecords, keyName: 'game_id', keys: gameIds, step },
      { rounds: BATCH_ROUNDS },
    );
    if (unread.length > 0) throw storeError(step, new Error(`${unread.length} keys left unprocessed`));
    return found;
  }
}

/** The listing's order: created_at, then game_id (code-unit order; both are ASCII). */
export function compareStartingKeys(a: StartingKey, b: StartingKey): number {
  if (a.created_at !== b.created_at) return a.created_at < b.created_at ? -1 : 1;
  return a.game_id < b.game_id ? -1 : a.game_id > b.game_id ? 1 : 0;
}
