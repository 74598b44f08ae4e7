/**
 * The outbox stream's event source mapping, locally: reads DynamoDB Local's
 * stream of the outbox table with the DynamoDB Streams API and hands the
 * records to the real publishSnapshots handler, shaped as Lambda shapes
 * them (`eventSourceARN`, `awsRegion`, `eventSource`,
 * `ApproximateCreationDateTime` in epoch seconds).
 *
 * Like the deployed mapping (serverless.yml): inserts only (the filter
 * pattern), batches of at most 10, and a partial batch response moves the
 * shard's checkpoint to just before the lowest failed record, so the next
 * `pump()` (the next invocation) hands that record and the ones after it
 * again. There is no retry timer or dead-letter queue here: a caller pumps.
 *
 * No installed plugin does this: serverless-offline itself has no stream
 * events, and the third-party `serverless-offline-dynamodb-streams` would be
 * a new dependency not verified against osls. So this small runner is what
 * `npm start`, `npm run invoke`, `npm run dev` and the tests use.
 */
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { LOCAL_AWS_ENV } from '../../infra/local-stack.ts';

export type StreamHandler = (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse | undefined>;

export interface StreamRelayOptions {
  /** DynamoDB Local's endpoint (loopback). */
  endpoint: string;
  /** The outbox table. */
  table: string;
  /** The publishSnapshots handler (or any stream handler). */
  handler: StreamHandler;
  /** At most this many records per invocation (serverless.yml: 10). */
  batchSize?: number;
  /** Which records reach the handler (serverless.yml's filter pattern: inserts only). */
  filter?: (record: DynamoDBRecord) => boolean;
}

/** One invocation of the handler. */
export interface RelayInvocation {
  records: DynamoDBRecord[];
  /** The SequenceNumbers the handler reported as batch item failures. */
  failed: string[];
}

export const INSERTS_ONLY = (record: DynamoDBRecord): boolean => record.eventName === 'INSERT';

/** A stream record as Lambda hands it to a function. */
export function lambdaShape(record: StreamRecord, streamArn: string, region: string): DynamoDBRecord {
  const { ApproximateCreationDateTime, ...dynamodb } = record.dynamodb ?? {};
  return {
    eventID: record.eventID,
    eventName: record.eventName as DynamoDBRecord['eventName'],
    eventVersion: record.eventVersion ?? '1.1',
    eventSource: 'aws:dynamodb',
    // DynamoDB Local says `ddblocal`; Lambda gives the table's region.
    awsRegion: region,
    eventSourceARN: streamArn,
    dynamodb: {
      ...(dynamodb as NonNullable<DynamoDBRecord['dynamodb']>),
      ...(ApproximateCreationDateTime ? { ApproximateCreationDateTime: Math.floor(ApproximateCreationDateTime.getTime() / 1000) } : {}),
    },
  };
}

export class StreamRelay {
  /** Per shard: the last sequence number handed over and not reported failed (the checkpoint). */
  private readonly checkpoints = new Map<string, string>();

  private constructor(
    private readonly streams: DynamoDBStreamsClient,
    readonly streamArn: string,
    private readonly options: StreamRelayOptions,
  ) {}

  static async open(options: StreamRelayOptions): Promise<StreamRelay> {
    const config = {
      endpoint: options.endpoint,
      region: LOCAL_AWS_ENV.AWS_REGION,
      credentials: { accessKeyId: LOCAL_AWS_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: LOCAL_AWS_ENV.AWS_SECRET_ACCESS_KEY },
    };
    const dynamo = new DynamoDBClient(config);
    try {
      const table = await dynamo.send(new DescribeTableCommand({ TableName: options.table }));
      const arn = table.Table?.LatestStreamArn;
      if (!arn) throw new Error(`table ${options.table} has no stream (StreamSpecification missing?)`);
      return new StreamRelay(new DynamoDBStreamsClient(config), arn, options);
    } finally {
      dynamo.destroy();
    }
  }

  /**
   * Everything on the stream past the checkpoints, Lambda-shaped, without
   * invoking anything or moving the checkpoints (unfiltered).
   */
  async read(): Promise<DynamoDBRecord[]> {
    const all: DynamoDBRecord[] = [];
    for (const shardId of await this.shardIds()) all.push(...(await this.readShard(shardId)));
    return all;
  }

  /**
   * One round of the event source mapping: for each shard, the records past
   * its checkpoint go to the handler in batches; a batch with failures
   * stops the shard there (its checkpoint just before the lowest failed
   * record), as Lambda does. Resolves with every invocation made.
   */
  async pump(): Promise<RelayInvocation[]> {
    const invocations: RelayInvocation[] = [];
    const size = this.options.batchSize ?? 10;
    const filter = this.options.filter ?? INSERTS_ONLY;
    for (const shardId of await this.shardIds()) {
      const records = await this.readShard(shardId);
      for (let i = 0; i < records.length; i += size) {
        const batch = records.slice(i, i + size);
        // Filtered-out records are consumed without an invocation, as with
        // an event source mapping filter.
        const handed = batch.filter(filter);
        let failed: string[] = [];
        if (handed.length > 0) {
          const response = await this.options.handler({ Records: handed });
          failed = (response?.batchItemFailures ?? []).map((f) => f.itemIdentifier);
          invocations.push({ records: handed, failed });
        }
        const firstFailed = batch.findIndex((r) => failed.includes(r.dynamodb?.SequenceNumber ?? ''));
        const upTo = firstFailed === -1 ? batch.length : firstFailed;
        const last = batch[upTo - 1]?.dynamodb?.SequenceNumber;
        if (last) this.checkpoints.set(shardId, last);
        if (firstFailed !== -1) break;
      }
    }
    return invocations;
  }

  close(): void {
    this.streams.destroy();
  }

  private async shardIds(): Promise<string[]> {
    const ids: string[] = [];
    let start: string | undefined;
    do {
      const res = await this.streams.send(new DescribeStreamCommand({ StreamArn: this.streamArn, ExclusiveStartShardId: start }));
      for (const shard of res.StreamDescription?.Shards ?? []) if (shard.ShardId) ids.push(shard.ShardId);
      start = res.StreamDescription?.LastEvaluatedShardId;
    } while (start);
    return ids;
  }

  private async readShard(shardId: string): Promise<DynamoDBRecord[]> {
    const checkpoint = this.checkpoints.get(shardId);
    const it = await this.streams.send(
      new GetShardIteratorCommand({
        StreamArn: this.streamArn,
        ShardId: shardId,
        ...(checkpoint ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: checkpoint } : { ShardIteratorType: 'TRIM_HORIZON' }),
      }),
    );
    const records: DynamoDBRecord[] = [];
    let iterator = it.ShardIterator;
    // An open shard always hands back a next iterator: read until a page comes back empty.
    while (iterator) {
      const page = await this.streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
      const got = page.Records ?? [];
      records.push(...got.map((r) => lambdaShape(r, this.streamArn, LOCAL_AWS_ENV.AWS_REGION)));
      if (got.length === 0) break;
      iterator = page.NextShardIterator;
    }
    return records;
  }
}
