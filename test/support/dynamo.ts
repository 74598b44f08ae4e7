/**
 * Per-file tables on the run's DynamoDB Local, created from infra/tables.yml,
 * and helpers to read what a test left behind.
 */
import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, paginateQuery } from '@aws-sdk/lib-dynamodb';
import { inject } from 'vitest';
import { createTables, LOCAL_AWS_ENV, scanAll, TABLE_ENV, type TableKey, type TableNames, tableNames } from '../../infra/local-stack.ts';

export interface TestTables {
  endpoint: string;
  names: TableNames;
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  /** Environment variables naming these tables and the endpoint. */
  env: Record<string, string>;
  scan(key: TableKey): Promise<Record<string, unknown>[]>;
  query(key: 'playerMappings' | 'operationLog', gameId: string): Promise<Record<string, unknown>[]>;
  seedEngineVersion(version: string, imageRef: string): Promise<void>;
  /** An abandoned `starting` record as a dead registration leaves it, created `ageS` seconds ago; answers its op_id. */
  seedAbandonedStarting(gameId: string, ageS: number, engineEndpoint: string): Promise<string>;
  /** Everything the tables hold for a game: its runtime record (0 or 1), mappings and audit entries. */
  rowsOf(gameId: string): Promise<{ records: Record<string, unknown>[]; mappings: Record<string, unknown>[]; log: Record<string, unknown>[] }>;
  /** The outbox items of a game (consistent scan: the outbox is keyed by event_id). */
  outboxOf(gameId: string): Promise<Record<string, unknown>[]>;
}

export async function createTestTables(): Promise<TestTables> {
  const endpoint = inject('dynamoEndpoint');
  const names = tableNames(`t${randomBytes(5).toString('hex')}`);
  const client = new DynamoDBClient({
    endpoint,
    region: LOCAL_AWS_ENV.AWS_REGION,
    credentials: { accessKeyId: LOCAL_AWS_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: LOCAL_AWS_ENV.AWS_SECRET_ACCESS_KEY },
  });
  await createTables(client, names);
  const doc = DynamoDBDocumentClient.from(client);
  const env: Record<string, string> = { AWS_ENDPOINT_URL_DYNAMODB: endpoint };
  for (const [key, variable] of Object.entries(TABLE_ENV)) env[variable] = names[key as TableKey];
  const tables: TestTables = {
    endpoint,
    names,
    client,
    doc,
    env,
    scan: (key) => scanAll(doc, names[key]),
    async query(key, gameId) {
      const items: Record<string, unknown>[] = [];
      const input = { TableName: names[key], KeyConditionExpression: 'game_id = :g', ExpressionAttributeValues: { ':g': gameId }, ConsistentRead: true };
      for await (const page of paginateQuery({ client: doc }, input)) items.push(...(page.Items ?? []));
      return items;
    },
    async seedEngineVersion(version, imageRef) {
      await doc.send(new PutCommand({ TableName: names.engineVersions, Item: { version, image_ref: imageRef } }));
    },
    async seedAbandonedStarting(gameId, ageS, engineEndpoint) {
      const at = new Date(Date.now() - ageS * 1000).toISOString();
      const opId = `${at}#dead-${gameId}`;
      await doc.send(
        new PutCommand({
          TableName: names.runtimeRecords,
          Item: {
            game_id: gameId, status: 'starting', engine_endpoint: engineEndpoint, current_image_ref: 'x', current_engine_version: '1.4.2',
            turn_schedule: '0 * * * *', current_turn: 0, next_generation_at: null, skip_next_tick: false, engine_health: '',
            created_at: at, updated_at: at, op_id: opId, starting_marker: 'starting',
          },
        }),
      );
      return opId;
    },
    async rowsOf(gameId) {
      const record = await doc.send(new GetCommand({ TableName: names.runtimeRecords, Key: { game_id: gameId }, ConsistentRead: true }));
      return {
        records: record.Item ? [record.Item] : [],
        mappings: await tables.query('playerMappings', gameId),
        log: await tables.query('operationLog', gameId),
      };
    },
    async outboxOf(gameId) {
      return (await scanAll(doc, names.outbox)).filter((item) => item.game_id === gameId);
    },
  };
  return tables;
}
