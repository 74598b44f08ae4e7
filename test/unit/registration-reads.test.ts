/**
 * Steps 1 and 2's one read (BatchGetItem), SDK mocked: keys handed back
 * unprocessed are asked again a bounded number of times, and never read
 * as "not found".
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoRegistrationReads, UNPROCESSED_RETRIES } from '../../lib/adapters/registration-reads.ts';
import { StoreUnavailableError } from '../../lib/ports.ts';

const ddb = mockClient(DynamoDBDocumentClient);
const TABLES = { runtimeRecords: 'records', engineVersions: 'versions' };
const recordKeys = { records: { Keys: [{ game_id: 'g-1' }], ProjectionExpression: 'game_id', ConsistentRead: true } };
const versionKeys = { versions: { Keys: [{ version: '1.4.2' }], ProjectionExpression: 'image_ref', ConsistentRead: true } };
let waits: number[];

function reads() {
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  return new DynamoRegistrationReads(doc, TABLES, { sleep: async (ms) => void waits.push(ms) });
}
const requested = () => ddb.commandCalls(BatchGetCommand).map((c) => c.args[0].input.RequestItems);

beforeEach(() => {
  ddb.reset();
  waits = [];
});

describe('Class: DynamoRegistrationReads', () => {
  it('asks unprocessed keys again, only those, with a growing back-off, and keeps what the first answer held', async () => {
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({ Responses: { records: [], versions: [] }, UnprocessedKeys: versionKeys })
      .resolvesOnce({ Responses: { versions: [{ image_ref: 'img:1' }] } });
    await expect(reads().read('g-1', '1.4.2')).resolves.toEqual({ recordExists: false, imageRef: 'img:1' });
    expect(requested()).toEqual([{ ...recordKeys, ...versionKeys }, versionKeys]);
    expect(waits).toHaveLength(1);
  });

  it('keys still unprocessed after the bounded retries: a store error naming the step, never "not found"', async () => {
    ddb.on(BatchGetCommand).resolves({ Responses: {}, UnprocessedKeys: { ...recordKeys, ...versionKeys } });
    const error = await reads().read('g-1', '1.4.2').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toMatch(/^get runtime record and engine version: store request failed/);
    expect(requested()).toHaveLength(1 + UNPROCESSED_RETRIES);
    expect(waits).toEqual([25, 50, 100]);
  });

  it('a version without image_ref is a store error, and is not remembered', async () => {
    ddb.on(BatchGetCommand).resolves({ Responses: { records: [], versions: [{ version: '1.4.2' }] } });
    const store = reads();
    await expect(store.read('g-1', '1.4.2')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.read('g-1', '1.4.2')).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(requested()).toHaveLength(2);
  });

  it('a resolved version is answered from memory, without reading the record (the insert answers for it)', async () => {
    ddb.on(BatchGetCommand).resolves({ Responses: { records: [], versions: [{ image_ref: 'img:1' }] } });
    const store = reads();
    await store.read('g-1', '1.4.2');
    await expect(store.read('g-2', '1.4.2')).resolves.toEqual({ recordExists: undefined, imageRef: 'img:1' });
    expect(requested()).toHaveLength(1);
  });
});
