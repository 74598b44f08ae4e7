/**
 * publishSnapshots: the outbox relay, triggered by the outbox table's
 * DynamoDB stream (inserts only, batches of up to 10). Answers a partial
 * batch response: `{ batchItemFailures: [{ itemIdentifier: SequenceNumber }] }`.
 *
 * Powertools' BatchProcessor hands records to a record handler one by one
 * (in parallel), but PutEvents should carry up to 10 entries per request.
 * So the work for the whole batch runs first, in the use case (one outbox
 * read, PutEvents by 10), which decides each record's fate; the record
 * handler given to processPartialResponse then only reports that fate,
 * throwing for a failed record. Powertools still builds the response (the
 * item identifiers, the DynamoDB stream shape) from those throws.
 * throwOnFullBatchFailure is off: a batch whose every record failed is
 * answered as such, like any other, rather than as a function error.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { loadConfig } from '../../lib/config.ts';
import { logger } from '../../lib/powertools.ts';
import type { StreamRecordRef } from '../../lib/publish-snapshots/publish-snapshots.ts';
import { buildRelay } from '../../lib/wiring.ts';

const relay = buildRelay(loadConfig());
const processor = new BatchProcessor(EventType.DynamoDBStreams);

/** A delivery that did not happen: the record is reported as a batch item failure. */
class NotDelivered extends Error {
  override readonly name = 'NotDelivered';
}

function ref(record: DynamoDBRecord): StreamRecordRef {
  return {
    sequenceNumber: record.dynamodb?.SequenceNumber ?? '',
    eventName: record.eventName,
    eventId: record.dynamodb?.Keys?.event_id?.S,
  };
}

async function publishSnapshots(event: DynamoDBStreamEvent, context: Context): Promise<DynamoDBBatchResponse> {
  const results = await relay.deliver(event.Records.map(ref));
  const report = async (record: DynamoDBRecord): Promise<void> => {
    const result = results.get(record.dynamodb?.SequenceNumber ?? '');
    // No result at all would be a defect: never take it as delivered.
    if (result === undefined) throw new NotDelivered('no delivery result for the record');
    if (result.status === 'failed') throw new NotDelivered(result.reason);
  };
  const response = await processPartialResponse(event, report, processor, { context, throwOnFullBatchFailure: false });
  logger.info('publish snapshots', {
    records: event.Records.length,
    delivered: [...results.values()].filter((r) => r.status === 'delivered').length,
    skipped: [...results.values()].filter((r) => r.status === 'skipped').length,
    failed: response.batchItemFailures.length,
  });
  return response as DynamoDBBatchResponse;
}

export const handler = middy<DynamoDBStreamEvent, DynamoDBBatchResponse, Error, Context>()
  .use(injectLambdaContext(logger))
  .handler(publishSnapshots);
