/**
 * A mutation test of `npm run check:template` itself: copies of the packaged
 * template (`serverless package --stage ci`, offline, as CI builds it), each
 * with one realistic mistake, every one of which the checks must reject,
 * while the template as packaged is accepted. Prints how many are caught and
 * lists any that are not.
 *
 * One checker (one WebAssembly engine) for the whole file; a mutant is done
 * as soon as one tool rejects it (the unmutated template runs every tool).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeFinding, TemplateChecker } from '../../scripts/template-checks/index.ts';
import type { Json } from '../../scripts/template-checks/types.ts';
import { type PackagedService, packageService } from '../support/bundled-lambda.ts';

const STAGE = 'ci';
const PACKAGE_TIMEOUT_MS = 200_000;

type Mutation = [name: string, mutate: (t: Json) => void];

const R = (t: Json, id: string) => {
  const resource = t.Resources[id];
  if (!resource) throw new Error(`mutation refers to ${id}, which the template does not have`);
  return resource;
};
const P = (t: Json, id: string) => R(t, id).Properties;
const dashboardBody = (t: Json, edit: (body: string) => string) => {
  const props = P(t, 'OperationsDashboard');
  const before = props.DashboardBody['Fn::Sub'] as string;
  props.DashboardBody['Fn::Sub'] = edit(before);
  if (props.DashboardBody['Fn::Sub'] === before) throw new Error('dashboard mutation changed nothing');
};
const mapping = (t: Json) => Object.values<Json>(t.Resources).find((r) => r.Type === 'AWS::Lambda::EventSourceMapping').Properties;
const statementsOf = (t: Json, roleId: string) => P(t, roleId).Policies[0].PolicyDocument.Statement as Json[];
const filterPattern = (t: Json, pattern: string) => {
  mapping(t).FilterCriteria.Filters = [{ Pattern: pattern }];
};

const MUTATIONS: Mutation[] = [
  // Lambda, stream mapping, queue: what the registry schemas bound.
  ['a Lambda timeout over 900 s', (t) => (P(t, 'ReconcileStartingLambdaFunction').Timeout = 901)],
  ['a runtime that does not exist', (t) => (P(t, 'PublishSnapshotsLambdaFunction').Runtime = 'nodejs99.x')],
  ['a typo in the stream view type', (t) => (P(t, 'OutboxTable').StreamSpecification.StreamViewType = 'NEW_IMAGES')],
  ['a stream batch size of 0', (t) => (mapping(t).BatchSize = 0)],
  ['a maximum record age under a minute', (t) => (mapping(t).MaximumRecordAgeInSeconds = 30)],
  ['a queue retention over 14 days', (t) => (P(t, 'SnapshotDeadLetterQueue').MessageRetentionPeriod = 1_209_601)],
  ['a Ref to a resource that does not exist', (t) => (P(t, 'HttpApi5xxRateAlarm').Metrics[0].MetricStat.Metric.Dimensions[0].Value = { Ref: 'HttpApiTypo' })],
  ['a DependsOn on a resource that does not exist', (t) => (R(t, 'HttpApiStage').DependsOn = 'HttpApiLogGroupp')],
  // Alarms.
  ['a typo in an alarm operator', (t) => (P(t, 'RegisterRuntimeErrorsAlarm').ComparisonOperator = 'GreaterThan')],
  ['an alarm period of 45 s', (t) => (P(t, 'RegisterRuntimeThrottlesAlarm').Period = 45)],
  ['an alarm statistic that is not one', (t) => (P(t, 'ReconcileStartingErrorsAlarm').Statistic = 'Avg')],
  [
    'an alarm with both Statistic and ExtendedStatistic',
    (t) => {
      P(t, 'RegisterRuntimeLatencyAlarm').Statistic = 'Average';
    },
  ],
  ['DatapointsToAlarm above EvaluationPeriods', (t) => (P(t, 'DynamoDbReadThrottlesAlarm').DatapointsToAlarm = 6)],
  [
    'a metric-math id used but never defined',
    (t) => {
      const q = P(t, 'DynamoDbWriteThrottlesAlarm').Metrics.at(-1);
      q.Expression = q.Expression.replace('versions', 'version');
    },
  ],
  ['two metric-math queries returning data', (t) => (P(t, 'HttpApi5xxRateAlarm').Metrics[0].ReturnData = true)],
  ['an alarm without actions (notifies nobody)', (t) => delete P(t, 'SnapshotDeadLettersAlarm').AlarmActions],
  ['a typo in an AWS metric name', (t) => (P(t, 'PublishSnapshotsErrorsAlarm').MetricName = 'Error')],
  ['an iterator-age alarm that fires only near the dead-letter point', (t) => (P(t, 'PublishSnapshotsIteratorAgeAlarm').Threshold = 3_300_000)],
  ['the relay iterator-age alarm dropped', (t) => delete t.Resources.PublishSnapshotsIteratorAgeAlarm],
  ['an alarm on a function that is not in the stack', (t) => (P(t, 'PublishSnapshotsErrorsAlarm').Dimensions[0].Value = `game-master-${STAGE}-publishSnapshot`)],
  // Custom metrics: what the code emits.
  ['a custom metric name the code never emits', (t) => (P(t, 'RegisterRuntimeDefectsAlarm').MetricName = 'register_runtime_outcome')],
  [
    'a custom metric alarm without the service dimension (another dimension set)',
    (t) => {
      const dims = P(t, 'RegistrationsAbandonedAlarm').Dimensions as Json[];
      P(t, 'RegistrationsAbandonedAlarm').Dimensions = dims.filter((d) => d.Name !== 'service');
    },
  ],
  [
    'a custom metric alarm on an error code that is never emitted',
    (t) => (P(t, 'RegisterRuntimeDefectsAlarm').Dimensions.find((d: Json) => d.Name === 'error_code').Value = 'internal'),
  ],
  ['a dashboard widget on a metric name the code never emits', (t) => dashboardBody(t, (b) => b.replace('"lobby_events_published"', '"lobby_events_publish"'))],
  ['a dashboard search over the wrong dimension set', (t) => dashboardBody(t, (b) => b.replace('{Galaxy/GameMaster,error_code,outcome,service}', '{Galaxy/GameMaster,outcome,service}'))],
  // The dashboard body.
  ['a dashboard body that is not JSON', (t) => dashboardBody(t, (b) => b.replace(/\]\}\s*$/, ']'))],
  ['a dashboard widget past the 24-column grid', (t) => dashboardBody(t, (b) => b.replace('"x": 12, "y": 0, "width": 12', '"x": 12, "y": 0, "width": 13'))],
  ['a dashboard row with a dimension name but no value', (t) => dashboardBody(t, (b) => b.replace('"QueueName", "game-master-ci-snapshot-dead-letters",', '"QueueName",'))],
  // HTTP API.
  ['a route key without its slash', (t) => (P(t, 'HttpApiRouteGetInternalV1EngineDashversions').RouteKey = 'GET internal/v1/engine-versions')],
  ['an unauthenticated route', (t) => (P(t, 'HttpApiRoutePutInternalV1EngineDashversionsVersionVar').AuthorizationType = 'NONE')],
  ['a route that is not documented', (t) => (P(t, 'HttpApiRouteGetInternalV1RuntimesGameidVarOperations').RouteKey = 'GET /internal/v1/runtimes/{game_id}/operation')],
  ['an integration timeout over the 30 s limit', (t) => (P(t, 'HttpApiIntegrationReadRuntime').TimeoutInMillis = 31_000)],
  ['an integration timeout shorter than the function', (t) => (P(t, 'HttpApiIntegrationRegisterRuntime').TimeoutInMillis = 10_000)],
  ['a payload format the handlers do not read', (t) => (P(t, 'HttpApiIntegrationEngineVersions').PayloadFormatVersion = '1.0')],
  ['no permission for the API to invoke a function', (t) => delete t.Resources.EngineVersionsLambdaPermissionHttpApi],
  ['a route targeting an integration that does not exist', (t) => (P(t, 'HttpApiRoutePostInternalV1Runtimes').Target['Fn::Join'][1][1] = { Ref: 'HttpApiStage' })],
  ['stage throttling dropped', (t) => (P(t, 'HttpApiStage').DefaultRouteSettings = { DetailedMetricsEnabled: false })],
  // The stream mapping's filter.
  ['a filter that drops inserts (typo in INSERT)', (t) => filterPattern(t, '{"eventName":["INSERTED"]}')],
  ['a filter value that is not a list', (t) => filterPattern(t, '{"eventName":"INSERT"}')],
  ['a filter that lets MODIFY through', (t) => filterPattern(t, '{"eventName":[{"anything-but":["REMOVE"]}]}')],
  ['a filter that is not JSON', (t) => filterPattern(t, "{eventName:['INSERT']}")],
  ['no filter at all (TTL expiries invoke the relay)', (t) => delete mapping(t).FilterCriteria],
  ['no partial batch responses', (t) => delete mapping(t).FunctionResponseTypes],
  ['no on-failure destination', (t) => delete mapping(t).DestinationConfig],
  // Tables, queue, topic: what must survive and stay private.
  ['a table without deletion protection', (t) => (P(t, 'OperationLogTable').DeletionProtectionEnabled = false)],
  ['a table without point-in-time recovery', (t) => (P(t, 'RuntimeRecordsTable').PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled = false)],
  ['a table deleted with the stack', (t) => (R(t, 'PlayerMappingsTable').DeletionPolicy = 'Delete')],
  ['the dead-letter queue replaced without keeping it', (t) => (R(t, 'SnapshotDeadLetterQueue').UpdateReplacePolicy = 'Delete')],
  ['the TLS-only queue policy dropped', (t) => delete t.Resources.SnapshotDeadLetterQueuePolicy],
  ['an unencrypted alarm topic', (t) => delete P(t, 'AlarmTopic').KmsMasterKeyId],
  // IAM.
  ['an IAM action that does not exist', (t) => statementsOf(t, 'ReadRuntimeIamRoleLambdaExecution')[1].Action.push('dynamodb:GetItems')],
  ['ListStreams granted on the stream ARN (grants nothing)', (t) => statementsOf(t, 'PublishSnapshotsIamRoleLambdaExecution')[1].Action.push('dynamodb:ListStreams')],
  ['an IAM service prefix that does not exist', (t) => (statementsOf(t, 'EngineVersionsIamRoleLambdaExecution')[1].Action[0] = 'dynamo:GetItem')],
  ['a wildcard resource', (t) => (statementsOf(t, 'PublishSnapshotsIamRoleLambdaExecution').find((s) => s.Action.includes('events:PutEvents')).Resource = ['*'])],
];

let service: PackagedService | undefined;
let checker: TemplateChecker | undefined;
let packaged: Json;

beforeAll(async () => {
  checker = TemplateChecker.create();
  service = await packageService(STAGE, PACKAGE_TIMEOUT_MS);
  packaged = service.template;
}, PACKAGE_TIMEOUT_MS + 40_000);

afterAll(() => {
  checker?.free();
  service?.remove();
});

describe('check:template, mutation-tested', () => {
  it('accepts the template as packaged (every tool, every finding on the allow-list)', async () => {
    const report = await (checker as TemplateChecker).check(structuredClone(packaged), 'packaged');
    expect(report.findings.map(describeFinding)).toEqual([]);
    // No stale entry: each one still allows something.
    const used = new Set(report.allowed.map((a) => a.entry));
    expect((checker as TemplateChecker).allowList.filter((e) => !used.has(e)).map((e) => `${e.tool} ${e.id}`)).toEqual([]);
  });

  it(`rejects each of ${MUTATIONS.length} one-mistake copies`, async () => {
    expect(MUTATIONS.length).toBeGreaterThanOrEqual(30);
    const missed: string[] = [];
    const caughtBy: Record<string, number> = {};
    const lines: string[] = [];
    for (const [name, mutate] of MUTATIONS) {
      const copy = structuredClone(packaged);
      mutate(copy);
      const report = await (checker as TemplateChecker).check(copy, name, { stopAtFirstRejection: true });
      const first = report.findings[0];
      if (!first) missed.push(name);
      else {
        caughtBy[first.tool] = (caughtBy[first.tool] ?? 0) + 1;
        lines.push(`  ${name}: ${describeFinding(first).slice(0, 160)}`);
      }
    }
    const caught = MUTATIONS.length - missed.length;
    const byTool = Object.entries(caughtBy)
      .map(([tool, n]) => `${tool} ${n}`)
      .join(', ');
    process.stdout.write(`\n[template mutations] caught ${caught} of ${MUTATIONS.length} (first rejected by: ${byTool})\n${lines.join('\n')}\n`);
    for (const name of missed) process.stdout.write(`[template mutations] NOT caught: ${name}\n`);
    expect(missed).toEqual([]);
  }, 240_000);
});
