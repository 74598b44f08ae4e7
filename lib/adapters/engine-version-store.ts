/** EngineVersionStore on DynamoDB: a version's image_ref. */
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { type EngineVersionStore, StoreUnavailableError } from '../ports.ts';
import { storeError } from './dynamodb-conditions.ts';

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
