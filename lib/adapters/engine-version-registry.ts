/**
 * EngineVersionRegistry on DynamoDB: the admin routes' Get, conditional Put
 * and Scan of the engine-versions table (a small table: one row per
 * released engine image).
 *
 * The listing Scans one item more than the page holds (see
 * operation-log-reader.ts for why); a Scan's order is the table's hash
 * order, so the start key is the last item of the page in that order, and
 * the use case sorts the page for display afterwards.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { EngineVersion } from '../domain/engine-version.ts';
import type { EngineVersionRegistry, Page } from '../ports.ts';
import { pageOf, storeError } from './dynamodb-conditions.ts';

function toVersion(item: Record<string, unknown>): EngineVersion {
  return {
    version: String(item.version),
    image_ref: String(item.image_ref),
    created_at: typeof item.created_at === 'string' ? item.created_at : null,
  };
}

export class DynamoEngineVersionRegistry implements EngineVersionRegistry {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async get(version: string): Promise<EngineVersion | undefined> {
    try {
      const res = await this.doc.send(new GetCommand({ TableName: this.table, Key: { version }, ConsistentRead: true }));
      return res.Item === undefined ? undefined : toVersion(res.Item);
    } catch (err) {
      throw storeError('get engine version', err);
    }
  }

  async create(item: EngineVersion): Promise<{ created: true } | { created: false; existing: EngineVersion }> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: item,
          // Versions are immutable: never overwrite one.
          ConditionExpression: 'attribute_not_exists(version)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { created: true };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw storeError('put engine version', err);
      const old = err.Item;
      if (old?.version?.S !== undefined && old.image_ref?.S !== undefined) {
        return { created: false, existing: { version: old.version.S, image_ref: old.image_ref.S, created_at: old.created_at?.S ?? null } };
      }
    }
    // Refused without the stored item in the answer: read it.
    const existing = await this.get(item.version);
    if (existing === undefined) throw storeError('put engine version', new Error('refused, then not found'));
    return { created: false, existing };
  }

  async page(limit: number, after?: string): Promise<Page<EngineVersion>> {
    let items: Record<string, unknown>[];
    let lastKey: Record<string, unknown> | undefined;
    try {
      const res = await this.doc.send(
        new ScanCommand({
          TableName: this.table,
          Limit: limit + 1,
          ConsistentRead: true,
          ...(after === undefined ? {} : { ExclusiveStartKey: { version: after } }),
        }),
      );
      items = res.Items ?? [];
      lastKey = res.LastEvaluatedKey;
    } catch (err) {
      throw storeError('scan engine versions', err);
    }
    return pageOf(items.map(toVersion), limit, lastKey, 'version');
  }
}
