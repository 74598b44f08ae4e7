/**
 * `npm run redrive -- --stage <stage> [--dry-run] [--limit N]`: re-sends the
 * dead-lettered snapshot events of a deployed stage from its outbox, with
 * the operator's credentials (the default AWS credential chain; the region
 * from AWS_REGION or the profile). What it does and prints: scripts/redrive-lib.ts;
 * the IAM it needs: docs/operations.md. An operator tool: no
 * Lambda bundle imports it.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { documentClient } from '../lib/adapters/dynamodb-conditions.ts';
import { runRedrive } from './redrive-lib.ts';

process.exitCode = await runRedrive(process.argv.slice(2), {
  sqs: new SQSClient({}),
  streams: new DynamoDBStreamsClient({}),
  doc: documentClient(new DynamoDBClient({})),
  eventBridge: new EventBridgeClient({}),
  print: (line) => console.log(line),
});
