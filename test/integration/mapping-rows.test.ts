/**
 * Removing one operation's player mappings (rollback and reclaim share it)
 * on DynamoDB Local behind a counting proxy: conditional deletes in
 * transactions of up to 100, never another operation's row, and the
 * fall-back to single deletes when a row changed between the query and
 * the transaction.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { LOCAL_AWS_ENV } from '../../infra/local-stack.ts';
import { documentClient } from '../../lib/adapters/dynamodb-conditions.ts';
import { DynamoRegistrationCommitter } from '../../lib/adapters/registration-committer.ts';
import { DynamoStartingRecordReclaimer } from '../../lib/adapters/starting-record-reclaimer.ts';
import { createTestTables, type TestTables } from '../support/dynamo.ts';
import { type DynamoProxy, startDynamoProxy } from '../support/dynamo-proxy.ts';

let tables: TestTables;
let proxy: DynamoProxy;
let proxied: DynamoDBClient;
let counter = 0;
const newGame = () => `g-rows-${++counter}`;
const userId = (i: number) => `u-${String(i).padStart(3, '0')}`;

beforeAll(async () => {
  tables = await createTestTables();
  proxy = await startDynamoProxy(inject('dynamoEndpoint'));
  proxied = new DynamoDBClient({
    endpoint: proxy.url,
    region: LOCAL_AWS_ENV.AWS_REGION,
    credentials: { accessKeyId: LOCAL_AWS_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: LOCAL_AWS_ENV.AWS_SECRET_ACCESS_KEY },
  });
});

afterAll(async () => {
  proxied?.destroy();
  await proxy?.close();
});

/** Writes mapping rows u-{from}..u-{to} of the game carrying opId (straight to DynamoDB Local). */
async function seedMappings(gameId: string, opId: string, from: number, to: number): Promise<void> {
  const items = [];
  for (let i = from; i <= to; i++) {
    items.push({ game_id: gameId, user_id: userId(i), race_name: `Race ${i}`, engine_player_uuid: `uuid-${i}`, created_at: 'x', op_id: opId });
  }
  for (let i = 0; i < items.length; i += 25) {
    await tables.doc.send(
      new BatchWriteCommand({ RequestItems: { [tables.names.playerMappings]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }),
    );
  }
}

const removers = {
  'rollback (RegistrationCommitter)': (doc: ReturnType<typeof documentClient>) => new DynamoRegistrationCommitter(doc, tables.names),
  'reclaim (StartingRecordReclaimer)': (doc: ReturnType<typeof documentClient>) => new DynamoStartingRecordReclaimer(doc, tables.names),
};

describe('Function: deleteMappingsOf (DynamoDB Local)', () => {
  describe.each(Object.keys(removers) as (keyof typeof removers)[])('%s', (which) => {
    it('260 rows of this operation among another operation\'s: 1 query + 3 transactions; only this operation\'s rows go', async () => {
      // Prepare: u-001..u-260 are op-a's; u-261..u-270 another operation's.
      const gameId = newGame();
      await seedMappings(gameId, 'op-a', 1, 260);
      await seedMappings(gameId, 'op-b', 261, 270);
      const from = proxy.requests.length;

      // Act
      await removers[which](documentClient(proxied)).deleteOwnedMappings(gameId, 'op-a');

      // Assess
      const ops = proxy.requests.slice(from).map((r) => r.op);
      expect(ops.filter((op) => op !== 'Query')).toEqual(['TransactWriteItems', 'TransactWriteItems', 'TransactWriteItems']);
      expect(proxy.requests.slice(from).every((r) => r.upstreamStatus === 200)).toBe(true);
      const left = await tables.query('playerMappings', gameId);
      expect(left.map((m) => m.user_id)).toEqual(Array.from({ length: 10 }, (_, i) => userId(261 + i)));
      expect(left.every((m) => m.op_id === 'op-b')).toBe(true);
    });
  });

  it('a row taken over between the query and the transaction: that chunk is cancelled, settled row by row, the taken row kept', async () => {
    // Prepare: 250 rows of op-a. Just before the first delete transaction
    // is sent, u-007 is rewritten by another operation (a latch in the
    // client's middleware, not a sleep).
    const gameId = newGame();
    await seedMappings(gameId, 'op-a', 1, 250);
    const doc = documentClient(proxied);
    let takenOver = false;
    doc.middlewareStack.add(
      (next) => async (args) => {
        const input = args.input as { TransactItems?: unknown[] };
        if (!takenOver && input.TransactItems !== undefined) {
          takenOver = true;
          await tables.doc.send(
            new UpdateCommand({
              TableName: tables.names.playerMappings,
              Key: { game_id: gameId, user_id: userId(7) },
              UpdateExpression: 'SET op_id = :other',
              ExpressionAttributeValues: { ':other': 'op-other' },
            }),
          );
        }
        return next(args);
      },
      { step: 'initialize', name: 'takeOverOneRow' },
    );
    const from = proxy.requests.length;

    // Act
    await new DynamoRegistrationCommitter(doc, tables.names).deleteOwnedMappings(gameId, 'op-a');

    // Assess: the chunk holding u-007 was cancelled and redone as 100 single deletes (one refused).
    const requests = proxy.requests.slice(from);
    const transactions = requests.filter((r) => r.op === 'TransactWriteItems');
    expect(transactions).toHaveLength(3);
    expect(transactions.filter((r) => r.upstreamStatus === 400)).toHaveLength(1);
    const singles = requests.filter((r) => r.op === 'DeleteItem');
    expect(singles).toHaveLength(100);
    expect(singles.filter((r) => r.upstreamStatus === 400)).toHaveLength(1);
    const left = await tables.query('playerMappings', gameId);
    expect(left).toEqual([expect.objectContaining({ user_id: userId(7), op_id: 'op-other' })]);
  });
});
