/**
 * Benchmark: registrations through the real handler on DynamoDB Local,
 * behind a counting proxy. Prints DynamoDB requests per registration (the
 * spec's budget is 4 for a 2-member roster without Idempotency-Key),
 * latency percentiles, and memory. Figures only: nothing is asserted.
 *
 *   npm run bench                      # 200 registrations, 2 members
 *   npm run bench -- --runs 500 --members 100 --concurrency 8
 */
import { parseArgs } from 'node:util';
import { createTables, LOCAL_AWS_ENV, startDynamoDbLocal, TABLE_ENV, type TableKey, tableNames } from '../infra/local-stack.ts';
import { startDynamoProxy } from '../test/support/dynamo-proxy.ts';
import { startEngineServer } from '../test/support/engine-server.ts';
import { startEventBridgeServer } from '../test/support/eventbridge-server.ts';
import { apiEvent, lambdaContext, registerBody } from '../test/support/harness.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '200' },
    members: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '1' },
    key: { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const members = Number(values.members);
const concurrency = Number(values.concurrency);

const dynamo = await startDynamoDbLocal({ onProgress: (m) => console.error(m) });
const proxy = await startDynamoProxy(dynamo.endpoint);
const engine = await startEngineServer();
const events = await startEventBridgeServer();
try {
  const names = tableNames('bench');
  await createTables(dynamo.client, names);
  const { PutCommand, DynamoDBDocumentClient } = await import('@aws-sdk/lib-dynamodb');
  await DynamoDBDocumentClient.from(dynamo.client).send(new PutCommand({ TableName: names.engineVersions, Item: { version: '1.4.2', image_ref: 'registry.local/galaxy/engine:1.4.2' } }));
  Object.assign(process.env, LOCAL_AWS_ENV, {
    AWS_ENDPOINT_URL_DYNAMODB: proxy.url,
    AWS_ENDPOINT_URL_EVENTBRIDGE: events.url,
    EVENT_BUS_NAME: 'bench-events',
    ENGINE_ALLOWED_HOSTS: '127.0.0.1',
    ENGINE_ALLOW_LOOPBACK: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  for (const [key, variable] of Object.entries(TABLE_ENV)) process.env[variable] = names[key as TableKey];
  const { handler } = await import('../functions/register-runtime/handler.ts');

  // Warm-up (cold start, connection pools) outside the figures.
  await handler(apiEvent(registerBody('g-warm', engine.url, { members })), lambdaContext());
  proxy.forwarded.length = 0;

  const latencies: number[] = [];
  let failures = 0;
  let next = 0;
  const heapBefore = process.memoryUsage().heapUsed;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < runs) {
        const i = next++;
        const headers: Record<string, string> = values.key ? { 'Idempotency-Key': `bench-${i}` } : {};
        const t0 = performance.now();
        const res = await handler(apiEvent(registerBody(`g-bench-${i}`, engine.url, { members }), { headers }), lambdaContext());
        latencies.push(performance.now() - t0);
        if (res.statusCode !== 201) failures++;
      }
    }),
  );
  const elapsed = performance.now() - started;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]?.toFixed(1);
  const byOp = new Map<string, number>();
  for (const op of proxy.forwarded) byOp.set(op, (byOp.get(op) ?? 0) + 1);
  const mem = process.memoryUsage();
  console.log(`registrations:            ${runs} (${members} members, concurrency ${concurrency}, Idempotency-Key ${values.key ? 'yes' : 'no'}), failures ${failures}`);
  console.log(`DynamoDB requests / reg:  ${(proxy.forwarded.length / runs).toFixed(2)}  (${[...byOp].map(([op, n]) => `${op} ${(n / runs).toFixed(2)}`).join(', ')})`);
  console.log(`latency ms:               p50 ${pct(50)}  p95 ${pct(95)}  p99 ${pct(99)}  max ${pct(100)}`);
  console.log(`throughput:               ${((runs / elapsed) * 1000).toFixed(1)} registrations/s`);
  console.log(`memory:                   rss ${(mem.rss / 2 ** 20).toFixed(1)} MiB, heap ${(mem.heapUsed / 2 ** 20).toFixed(1)} MiB (heap growth ${((mem.heapUsed - heapBefore) / 2 ** 20).toFixed(1)} MiB)`);
} finally {
  await engine.close();
  await events.close();
  await proxy.close();
  await dynamo.stop();
}
