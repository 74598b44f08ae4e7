/**
 * `npm run engine-version -- <version> <image_ref> --stage <stage> --region <region> [--url <https://...> | --api-id <id>]`:
 * adds an engine version to a deployed stage with one SigV4-signed
 * `PUT /internal/v1/engine-versions/{version}` (the default AWS credential
 * chain). What it sends and prints: runPutVersion in scripts/smoke-lib.ts.
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { runPutVersion } from './smoke-lib.ts';

process.exitCode = await runPutVersion(process.argv.slice(2), {
  credentials: defaultProvider(),
  fetch: globalThis.fetch,
  clock: () => new Date(),
  print: (line) => console.log(line),
});
