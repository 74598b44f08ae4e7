/**
 * RuntimeReader on DynamoDB: the runtime record (Get) and the game's player
 * mappings (Query, every page), both strongly consistent, so a read right
 * after a registration answered sees it.
 */
import { type DynamoDBDocumentClient, GetCommand, paginateQuery } from '@aws-sdk/lib-dynamodb';
import { RUNTIME_RECORD_FIELDS, type RuntimePlayer, type RuntimeRecord } from '../domain/runtime-record.ts';
import type { RuntimeReader } from '../ports.ts';
import { storeError, type TableNames } from './dynamodb-conditions.ts';

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
}
