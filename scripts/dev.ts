/**
 * `npm run dev`: the real route on http://localhost:3000 through
 * serverless-offline, against the local environment, until Ctrl-C.
 *
 *   curl -sS http://localhost:3000/internal/v1/runtimes \
 *     -H 'content-type: application/json' -d @<body.json>
 *
 * serverless-offline does not enforce the route's IAM (SigV4) authorizer:
 * the local endpoint is unauthenticated.
 *
 * serverless-offline has no DynamoDB stream events, so this script runs the
 * outbox relay itself: every second it reads the outbox stream on DynamoDB
 * Local and hands new records to the real publishSnapshots handler (as the
 * deployed event source mapping does), and prints each event that reaches
 * the EventBridge double.
 */
import { describeRelayRound, startSnapshotRelay, withLocalEnvironment } from './local-env.ts';
import { exitCodeOf, runServerless, stopChild } from './serverless-cli.ts';

const NAME = 'dev';

await withLocalEnvironment(NAME, async (local, onStop) => {
  console.log(`[${NAME}] serverless offline --stage local (http://localhost:3000; Ctrl-C to stop)`);
  console.log(`[${NAME}] local engine: ${local.engine.url} (ok), ${local.engine.url}/status-503, ${local.engine.url}/wrong-roster, ...`);
  console.log(`[${NAME}] the local endpoint is unauthenticated: serverless-offline does not check IAM (SigV4)`);
  const child = runServerless(['offline'], local.env);
  onStop(() => stopChild(child));

  const relay = await startSnapshotRelay(local);
  let shown = 0;
  let round: Promise<void> = Promise.resolve();
  // A poll, as the event source mapping polls the stream; one round at a time.
  const timer = setInterval(() => {
    round = round.then(async () => {
      try {
        const invocations = await relay.pump();
        if (invocations.length > 0) for (const line of describeRelayRound(invocations)) console.log(`[${NAME}] relay: ${line}`);
        for (const entry of local.events.entries.slice(shown)) {
          console.log(`[${NAME}] EventBridge ${entry.accepted ? 'received' : 'refused'} ${entry.DetailType}: ${entry.Detail}`);
        }
        shown = local.events.entries.length;
      } catch (err) {
        console.error(`[${NAME}] relay round failed: ${(err as Error).message}`);
      }
    });
  }, 1000);
  onStop(async () => {
    clearInterval(timer);
    await round;
    relay.close();
  });
  return exitCodeOf(child);
});
