/**
 * The chaos test (issue 16, item 5): real handlers on DynamoDB Local behind
 * fault-injecting proxies, a seeded random plan per registration, then every
 * game checked against what its answers promised. See docs/development.md, "Chaos test".
 *
 *   npm run chaos                                  # 120 registrations, a random seed
 *   npm run chaos -- --seed 7 --registrations 2000 # the long form
 *   npm run chaos -- --seed 7 --only 12,40         # replay registrations 12 and 40 of seed 7
 *
 * Prints progress, then the table; exits 1 on any broken promise.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    registrations: { type: 'string', default: '120' },
    only: { type: 'string' },
    lanes: { type: 'string', default: '12' },
    quiet: { type: 'boolean', short: 'q' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('npm run chaos -- [--seed N] [--registrations N] [--only i,j,...] [--lanes N] [--quiet]');
  process.exit(0);
}
const int = (name: string, raw: string | undefined): number => {
  if (raw === undefined || !/^\d+$/.test(raw)) {
    console.error(`--${name} must be a non-negative integer, got ${raw}`);
    process.exit(2);
  }
  return Number(raw);
};
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : int('seed', values.seed);
const registrations = int('registrations', values.registrations);
const lanes = int('lanes', values.lanes);
const only = values.only?.split(',').map((s) => int('only', s.trim()));

// The Lambda-like environment, set before any module of the project reads it.
const { LOCAL_AWS_ENV, startDynamoDbLocal } = await import('../infra/local-stack.ts');
Object.assign(process.env, LOCAL_AWS_ENV, {
  AWS_LAMBDA_FUNCTION_NAME: 'game-master-chaos-registerRuntime',
  POWERTOOLS_SERVICE_NAME: 'game-master',
  POWERTOOLS_METRICS_NAMESPACE: 'Galaxy/GameMaster',
  // Log lines are captured per call (never printed) for the report of a broken registration.
  POWERTOOLS_LOG_LEVEL: 'INFO',
});
delete process.env.POWERTOOLS_DEV;
delete process.env.POWERTOOLS_METRICS_DISABLED;

const { runChaos } = await import('../test/support/chaos/runner.ts');
const { check } = await import('../test/support/chaos/checker.ts');
const { describeAnswers, report } = await import('../test/support/chaos/report.ts');
const { takeViolations } = await import('../test/support/contract.ts');

const log = (line: string) => process.stderr.write(`${line}\n`);
log(`chaos: seed ${seed}${only ? `, only ${only.join(',')}` : `, ${registrations} registrations`}; starting DynamoDB Local`);
const dynamo = await startDynamoDbLocal({ onProgress: log });
let exitCode = 0;
try {
  const run = await runChaos({
    seed,
    registrations,
    ...(only ? { only } : {}),
    lanes,
    dynamoEndpoint: dynamo.endpoint,
    // A fresh module instance per execution environment: the query string makes a new module URL.
    importFresh: (path, tag) => import(`${pathToFileURL(path).href}?chaos=${tag}`),
    onProgress: log,
    // Each plan as it was played, and what it was answered (stderr: the table alone goes to stdout).
    ...(values.quiet ? {} : { onRegistration: (o) => log(describeAnswers(o)) }),
  });
  const broken = check(run);
  console.log(report(run, broken));
  const violations = takeViolations();
  if (violations.length > 0) console.log(`\nContract violations (docs/openapi.yaml, event schema): ${violations.length}\n${violations.slice(0, 10).join('\n')}`);
  exitCode = broken.length > 0 || violations.length > 0 ? 1 : 0;
} catch (err) {
  console.error('chaos: the run itself failed:', err);
  exitCode = 2;
} finally {
  await dynamo.stop();
}
process.exit(exitCode);
