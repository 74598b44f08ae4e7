import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeTableCommand, DescribeTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { dynamoDbLocalArgs, dynamoDbLocalDir, tableDefinitions, tableNames } from '../../infra/local-stack.ts';
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

describe('DynamoDB Local, as the local runs and the tests start it', () => {
  const help = () => spawnSync('java', ['-Djava.library.path=./DynamoDBLocal_lib', '-jar', 'DynamoDBLocal.jar', '-help'], { cwd: dynamoDbLocalDir(), encoding: 'utf8' });

  it('runs in memory, one database for all credentials, on the given port, with telemetry off (nothing leaves the machine)', () => {
    const args = dynamoDbLocalArgs(41234);
    expect(args).toEqual(expect.arrayContaining(['-inMemory', '-sharedDb', '-disableTelemetry']));
    expect(args.slice(args.indexOf('-port'), args.indexOf('-port') + 2)).toEqual(['-port', '41234']);
    expect(existsSync(join(dynamoDbLocalDir(), 'DynamoDBLocal.jar'))).toBe(true);
  });

  it('the shipped DynamoDB Local takes every flag used, and has none to choose its listening address (README says so)', () => {
    const run = help();
    const usage = `${run.stdout}${run.stderr}`;
    for (const flag of dynamoDbLocalArgs(1).filter((a) => /^-[a-zA-Z]+$/.test(a))) expect(usage, flag).toContain(flag);
    expect(usage).not.toMatch(/-(host|bind|address)\b/i);
  });
});
