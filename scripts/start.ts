/**
 * `npm start`: the main job, for real, on this machine. Starts the local
 * environment (DynamoDB Local, the tables, the loopback engine and
 * EventBridge double), registers the sample game of
 * events/register-success.json through the real handler, and prints the
 * HTTP answer and every table's rows; then runs one round of the outbox
 * relay (DynamoDB Local's stream -> the real publishSnapshots handler) and
 * prints the snapshot event EventBridge received through it. Cleans up
 * after itself, also on failure and on Ctrl-C.
 *
 *   npm start                              # events/register-success.json
 *   npm start -- events/conflict.json      # any other sample
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { lambdaContext } from '../test/support/harness.ts';
import { describeRelayRound, LOCAL_STAGE, startSnapshotRelay, withLocalEnvironment } from './local-env.ts';

const NAME = 'start';
const eventFile = resolve(process.argv[2] ?? 'events/register-success.json');

type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

const show = (value: unknown) => JSON.stringify(value, null, 2);

function heading(title: string): void {
  console.log(`\n=== ${title} ${'='.repeat(Math.max(0, 66 - title.length))}`);
}

await withLocalEnvironment(NAME, async (local) => {
  const event = JSON.parse(readFileSync(eventFile, 'utf8')) as APIGatewayProxyEventV2;

  // The handler reads its configuration when it is imported (a cold start):
  // set the environment first.
  Object.assign(process.env, local.env);
  console.log(`[${NAME}] loading functions/register-runtime/handler.ts`);
  const { handler } = (await import('../functions/register-runtime/handler.ts')) as { handler: Handler };

  console.log(`[${NAME}] POST ${event.rawPath} with ${eventFile}`);
  heading('request body');
  console.log(event.body ? show(JSON.parse(event.body)) : '(none)');

  heading('handler logs and metrics (what CloudWatch would receive)');
  const response = await handler(event, lambdaContext(28_000, `game-master-${LOCAL_STAGE}-registerRuntime`));

  heading(`HTTP response: ${response.statusCode}`);
  console.log(show(response.headers ?? {}));
  let body: unknown = response.body;
  try {
    body = JSON.parse(response.body ?? '');
  } catch {
    // print as it came
  }
  console.log(show(body));

  const rows = await local.rows();
  for (const [key, items] of Object.entries(rows)) {
    const table = local.tables[key as keyof typeof local.tables];
    heading(`${table} (${items.length} row${items.length === 1 ? '' : 's'})`);
    console.log(items.length === 0 ? '(empty)' : show(items));
  }

  // The register function never calls EventBridge: the event is the
  // outbox row above; the relay delivers it from the table's stream.
  heading('outbox stream -> publishSnapshots (the relay, one round)');
  const relay = await startSnapshotRelay(local);
  try {
    for (const line of describeRelayRound(await relay.pump())) console.log(line);
  } finally {
    relay.close();
  }

  heading(`EventBridge PutEvents received (${local.events.entries.length})`);
  if (local.events.entries.length === 0) console.log('(none: a failed registration leaves no outbox item, so nothing is published)');
  for (const entry of local.events.entries) {
    console.log(show({ EventBusName: entry.EventBusName, Source: entry.Source, DetailType: entry.DetailType, Detail: entry.detail }));
  }
  heading('engine calls');
  console.log(show(local.engine.calls));
  console.log('');
  return 0;
});
