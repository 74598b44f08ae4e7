/**
 * `npm run invoke -- [function] events/<file>.json`: runs one sample event
 * through `serverless invoke local -f <function>` against the local
 * environment (DynamoDB Local with seeded rows, the loopback engine on
 * 127.0.0.1:18080, the EventBridge double), prints the function's answer,
 * then runs one round of the outbox relay (DynamoDB Local's stream -> the
 * real publishSnapshots handler, in this process) and prints what
 * EventBridge received through it, and cleans up. Without a function name,
 * the function is the one serverless.yml routes the sample's routeKey to.
 */
import { existsSync, readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { describeRelayRound, startSnapshotRelay, withLocalEnvironment } from './local-env.ts';
import { httpRoutes, routeFor } from './routes.ts';
import { exitCodeOf, ROOT, runServerless, stopChild } from './serverless-cli.ts';

const NAME = 'invoke';
const functions = [...new Set(httpRoutes().map((r) => r.functionName))];
const args = process.argv.slice(2);
const named = args.length > 1 ? args[0] : undefined;
const arg = args.length > 1 ? args[1] : args[0];
if (!arg || arg === '--help' || arg === '-h') {
  console.error(`usage: npm run invoke -- [${functions.join('|')}] events/<file>.json   (e.g. events/register-success.json)`);
  process.exit(arg ? 0 : 2);
}
const file = resolve(arg);
if (!existsSync(file)) {
  console.error(`[${NAME}] no such event file: ${arg}`);
  process.exit(2);
}
const routeKey = (JSON.parse(readFileSync(file, 'utf8')) as { routeKey?: string }).routeKey;
const functionName = named ?? routeFor(routeKey)?.functionName;
if (functionName === undefined || !functions.includes(functionName)) {
  console.error(
    named
      ? `[${NAME}] no HTTP function named ${named} (one of ${functions.join(', ')})`
      : `[${NAME}] no function serves routeKey ${JSON.stringify(routeKey)}; name one: ${functions.join(', ')}`,
  );
  process.exit(2);
}

await withLocalEnvironment(NAME, async (local, onStop) => {
  const path = relative(ROOT, file);
  console.log(`[${NAME}] serverless invoke local -f ${functionName} -p ${path} --stage local`);
  const child = runServerless(['invoke', 'local', '-f', functionName, '-p', path], local.env);
  onStop(() => stopChild(child));
  const code = await exitCodeOf(child);

  console.log(`\n[${NAME}] outbox stream -> publishSnapshots (the relay, one round)`);
  const relay = await startSnapshotRelay(local);
  try {
    for (const line of describeRelayRound(await relay.pump())) console.log(`[${NAME}] ${line}`);
  } finally {
    relay.close();
  }
  const published = local.events.entries;
  console.log(`\n[${NAME}] EventBridge received ${published.length} event(s)`);
  for (const entry of published) {
    console.log(JSON.stringify({ EventBusName: entry.EventBusName, Source: entry.Source, DetailType: entry.DetailType, Detail: entry.detail }, null, 2));
  }
  const rows = await local.rows();
  console.log(
    `[${NAME}] rows now: ${Object.entries(rows)
      .map(([key, items]) => `${key} ${items.length}`)
      .join(', ')} (npm start prints them in full)`,
  );
  return code;
});
