/**
 * Lambda-like environment for every test file: local credentials and
 * region, Powertools in a quiet, deterministic mode. Table names and
 * endpoints are set per file by test/support/dynamo.ts.
 */
import { LOCAL_AWS_ENV } from '../../infra/local-stack.ts';

Object.assign(process.env, LOCAL_AWS_ENV, {
  AWS_LAMBDA_FUNCTION_NAME: 'game-master-test-registerRuntime',
  POWERTOOLS_SERVICE_NAME: 'game-master',
  POWERTOOLS_METRICS_NAMESPACE: 'Galaxy/GameMaster',
  POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'SILENT',
});
