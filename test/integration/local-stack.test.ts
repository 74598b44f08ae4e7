import { DescribeTableCommand, DescribeTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { tableDefinitions, tableNames } from '../../infra/local-stack.ts';
import { createTestTables } from '../support/dynamo.ts';

describe('Local stack: tables from infra/tables.yml', () => {
  it('creates the five tables with the contract keys', async () => {
    const t = await createTestTables();
    const keys = async (name: string) =>
      (await t.client.send(new DescribeTableCommand({ TableName: name }))).Table?.KeySchema?.map((k) => `${k.AttributeName}:${k.KeyType}`);
    expect(await keys(t.names.runtimeRecords)).toEqual(['game_id:HASH']);
    expect(await keys(t.names.engineVersions)).toEqual(['version:HASH']);
    expect(await keys(t.names.playerMappings)).toEqual(['game_id:HASH', 'user_id:RANGE']);
    expect(await keys(t.names.operationLog)).toEqual(['game_id:HASH', 'op_id:RANGE']);
    expect(await keys(t.names.idempotency)).toEqual(['id:HASH']);
    const ttl = await t.client.send(new DescribeTimeToLiveCommand({ TableName: t.names.idempotency }));
    expect(ttl.TimeToLiveDescription?.AttributeName).toBe('expiration');
  });

  it('has the sparse starting index the reconciler queries', () => {
    const records = tableDefinitions(tableNames('x')).find((d) => d.input.TableName === 'x-runtime-records');
    expect(records?.input.GlobalSecondaryIndexes?.[0]?.IndexName).toBe('starting_by_created_at');
  });
});
