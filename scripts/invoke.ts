/**
 * `npm run invoke -- events/<file>.json`: runs one sample event through
 * `serverless invoke local -f registerRuntime` against the local
 * environment (DynamoDB Local with seeded rows, the loopback engine on
 * 127.0.0.1:18080, the EventBridge double), prints the function's answer,
 * then runs one round of the outbox relay (DynamoDB Local's stream -> the
 * real publishSnapshots handler, in this process) and prints what
 * EventBridge received through it, and cleans up.
 */
import { existsSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { describeRelayRound, startSnapshotRelay, withLocalEnvironment } from './local-env.ts';
import { exitCodeOf, ROOT, runServerless, stopChild } from './serverless-cli.ts';

const NAME = 'invoke';
const arg = process.argv[2];
if (!arg || arg === '--help' || arg === '-h') {
  console.error('usage: npm run invoke -- events/<file>.json   (e.g. events/register-success.json)');
  process.exit(arg ? 0 : 2);
}
const file = resolve(arg);
if (!existsSync(file)) {
  console.error(`[${NAME}] no such event file: ${arg}`);
  process.exit(2);
}

await withLocalEnvironment(NAME, async (local, onStop) => {
  const path = relative(ROOT, file);
  console.log(`[${NAME}] serverless invoke local -f registerRuntime -p ${path} --stage local`);
  const child = runServerless(['invoke', 'local', '-f', 'registerRuntime', '-p', path], local.env);
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
