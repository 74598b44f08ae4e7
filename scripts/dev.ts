/**
 * `npm run dev`: the real route on http://localhost:3000 through
 * serverless-offline, against the local environment, until Ctrl-C.
 *
 *   curl -sS http://localhost:3000/internal/v1/runtimes \
 *     -H 'content-type: application/json' -d @<body.json>
 *
 * serverless-offline does not enforce the route's IAM (SigV4) authorizer:
 * the local endpoint is unauthenticated.
 */
import { withLocalEnvironment } from './local-env.ts';
import { exitCodeOf, runServerless, stopChild } from './serverless-cli.ts';

const NAME = 'dev';

await withLocalEnvironment(NAME, async (local, onStop) => {
  console.log(`[${NAME}] serverless offline --stage local (http://localhost:3000; Ctrl-C to stop)`);
  console.log(`[${NAME}] local engine: ${local.engine.url} (ok), ${local.engine.url}/status-503, ${local.engine.url}/wrong-roster, ...`);
  console.log(`[${NAME}] the local endpoint is unauthenticated: serverless-offline does not check IAM (SigV4)`);
  const child = runServerless(['offline'], local.env);
  onStop(() => stopChild(child));
  return exitCodeOf(child);
});
