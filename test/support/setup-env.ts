/**
 * Lambda-like environment for every test file: local credentials and
 * region, Powertools in a quiet, deterministic mode. Table names and
 * endpoints are set per file by test/support/dynamo.ts.
 */
import { LOCAL_AWS_ENV } from '../../infra/local-stack.ts';

Object.assign(process.env, LOCAL_AWS_ENV, {
  AWS_LAMBDA_FUNCTION_NAME: 'game-master-test-registerRuntime',
  // As Lambda sets it in an on-demand environment: Powertools logs
  // `cold_start: true` on a fresh environment's first invocation only then.
  AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
  POWERTOOLS_SERVICE_NAME: 'game-master',
  POWERTOOLS_METRICS_NAMESPACE: 'Galaxy/GameMaster',
  POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'SILENT',
});

/**
 * Metrics go to stdout as EMF documents; outside a test that captures them
 * (test/support/emf.ts) they would only bury the test report. SHOW_EMF=1
 * prints them.
 */
if (!process.env.SHOW_EMF) {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (typeof chunk === 'string' && chunk.startsWith('{"_aws":')) {
      const callback = rest.find((arg) => typeof arg === 'function') as ((err?: Error | null) => void) | undefined;
      callback?.(null);
      return true;
    }
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
}
