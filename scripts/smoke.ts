/**
 * `npm run smoke -- --stage <stage> --region <region> [--url <https://...> | --api-id <id>] [--game <game_id>]`:
 * checks a deployed stage with SigV4-signed requests (the default AWS
 * credential chain). What it sends and prints: scripts/smoke-lib.ts.
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { runSmoke } from './smoke-lib.ts';

process.exitCode = await runSmoke(process.argv.slice(2), {
  credentials: defaultProvider(),
  fetch: globalThis.fetch,
  clock: () => new Date(),
  print: (line) => console.log(line),
});
