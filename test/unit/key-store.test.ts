/**
 * The key store's completion, SDK mocked: a completion that failed (not
 * refused: its fate unknown) leaves the call its token, so that a later
 * completion of the same call (its own, after the deadline guard's) still
 * writes, under the same condition; a refused one does not.
 */
import { IdempotencyConfig } from '@aws-lambda-powertools/idempotency';
import { ConditionalCheckFailedException, DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { CALL_TOKEN_ATTR, type KeyedPayload, KeyStore } from '../../lib/adapters/idempotency-key-store.ts';
import { RecordingLog } from '../support/harness.ts';

const dynamo = mockClient(DynamoDBClient);
const answer = { statusCode: 201, headers: { 'Content-Type': 'application/json' }, body: '{}' };

beforeEach(() => {
  dynamo.reset();
  dynamo.on(PutItemCommand).resolves({});
});

/** A store, configured as KeyedRetries configures it, and a payload whose key this call has taken. */
async function takenKey() {
  const store = new KeyStore(new DynamoDBClient({ region: 'us-east-1' }), 'keys', new RecordingLog());
  store.configure({
    config: new IdempotencyConfig({ eventKeyJmesPath: 'key', payloadValidationJmesPath: 'body', expiresAfterSeconds: 3600 }),
    keyPrefix: 'test',
  });
  const payload: KeyedPayload = { key: 'k-1', body: 'Ym9keQ==' };
  await store.saveInProgress(payload as never, 10_000);
  return { store, payload };
}

const completions = () => dynamo.commandCalls(UpdateItemCommand).map((c) => c.args[0].input.ExpressionAttributeValues?.[':call_token']?.S);
const tokenTaken = () => dynamo.commandCalls(PutItemCommand)[0]?.args[0].input.Item?.[CALL_TOKEN_ATTR]?.S;

describe('Class: KeyStore', () => {
  describe('Method: saveSuccess', () => {
    it('a completion that failed keeps the token: the next completion of the call writes again, under the same token', async () => {
      const { store, payload } = await takenKey();
      dynamo.on(UpdateItemCommand).rejectsOnce(new Error('socket hang up')).resolves({});
      await expect(store.saveSuccess(payload as never, answer as never)).rejects.toThrow('socket hang up');
      await store.saveSuccess(payload as never, answer as never);
      expect(completions()).toEqual([tokenTaken(), tokenTaken()]);
    });

    it('a completion done (or refused) is the call\'s last: a later one writes nothing', async () => {
      const { store, payload } = await takenKey();
      dynamo.on(UpdateItemCommand).resolvesOnce({}).rejects(new ConditionalCheckFailedException({ message: 'refused', $metadata: {} }));
      await store.saveSuccess(payload as never, answer as never);
      await store.saveSuccess(payload as never, answer as never);
      expect(completions()).toEqual([tokenTaken()]);
    });
  });
});
