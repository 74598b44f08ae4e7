/**
 * `npm start`: the main job, for real, on this machine. Starts the local
 * environment (DynamoDB Local, the tables, the loopback engine and
 * EventBridge double), registers the sample game of
 * events/register-success.json through the real handler, and prints the
 * HTTP answer and every table's rows; then runs one round of the outbox
 * relay (DynamoDB Local's stream -> the real publishSnapshots handler) and
 * prints the snapshot event EventBridge received through it, then reads the
 * game back through the readRuntime handler (GET its record with players,
 * GET its operations). Cleans up after itself, also on failure and on Ctrl-C.
 *
 *   npm start                              # events/register-success.json
 *   npm start -- events/conflict.json      # any other sample
 *   npm start -- events/read-runtime.json  # samples of the other routes too
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { lambdaContext } from '../test/support/harness.ts';
import { OPERATIONS_ROUTE, RUNTIME_ROUTE, routeEvent } from '../test/support/http-events.ts';
import { describeRelayRound, LOCAL_STAGE, startSnapshotRelay, withLocalEnvironment } from './local-env.ts';
import { routeFor } from './routes.ts';

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
  // The function serverless.yml routes the sample to (registerRuntime for the default one).
  const route = routeFor(event.routeKey);
  if (route === undefined) {
    console.error(`[${NAME}] no function serves routeKey ${JSON.stringify(event.routeKey)} (${eventFile})`);
    return 2;
  }
  console.log(`[${NAME}] loading ${route.handlerModule}`);
  const { handler } = (await import(`../${route.handlerModule}`)) as { handler: Handler };

  console.log(`[${NAME}] ${event.requestContext.http.method} ${event.rawPath}${event.rawQueryString ? `?${event.rawQueryString}` : ''} with ${eventFile}`);
  heading('request body');
  console.log(event.body ? show(JSON.parse(event.body)) : '(none)');

  heading('handler logs and metrics (what CloudWatch would receive)');
  const response = await handler(event, lambdaContext(28_000, `game-master-${LOCAL_STAGE}-${route.functionName}`));

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
  if (local.events.entries.length === 0) {
    console.log(
      route.functionName === 'registerRuntime'
        ? '(none: a failed registration leaves no outbox item, so nothing is published)'
        : '(none)',
    );
  }
  for (const entry of local.events.entries) {
    console.log(show({ EventBusName: entry.EventBusName, Source: entry.Source, DetailType: entry.DetailType, Detail: entry.detail }));
  }
  heading('engine calls');
  console.log(show(local.engine.calls));

  // A registration sample: read the game back, as Lobby would.
  let gameId: unknown;
  try {
    if (route.functionName === 'registerRuntime') gameId = (JSON.parse(event.body ?? '{}') as { game_id?: unknown }).game_id;
  } catch {
    // a sample whose body is not JSON: nothing to read back
  }
  if (typeof gameId === 'string' && gameId !== '') {
    console.log(`\n[${NAME}] loading functions/read-runtime/handler.ts`);
    const { handler: read } = (await import('../functions/read-runtime/handler.ts')) as { handler: Handler };
    for (const template of [RUNTIME_ROUTE, OPERATIONS_ROUTE]) {
      const request = routeEvent('GET', template, { params: { game_id: gameId } });
      const answer = await read(request, lambdaContext(10_000, `game-master-${LOCAL_STAGE}-readRuntime`));
      heading(`GET ${request.rawPath}: ${answer.statusCode}`);
      console.log(show(JSON.parse(answer.body ?? 'null')));
    }
  }
  console.log('');
  return 0;
});
