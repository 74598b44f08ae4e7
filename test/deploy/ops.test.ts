/**
 * What on-call gets with a stage: the CloudWatch dashboard (infra/dashboard.yml)
 * and the alarms of infra/alarms.yml, read from the CloudFormation template
 * that `serverless package --stage ci` builds offline, without credentials
 * (the same packaging as test/deploy/package.test.ts).
 *
 * The dashboard must show only this stack's metrics: every function, table,
 * queue and API it names is one the spec fixes for the stack (and every one
 * the template creates is on it), every custom metric is one the functions
 * emit, with the dimensions they emit it with.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PackagedService, packageService } from '../support/bundled-lambda.ts';

const STAGE = 'ci';
const PACKAGE_TIMEOUT_MS = 200_000;
const PREFIX = `game-master-${STAGE}`;
const REGION_PLACEHOLDER = 'region-from-cloudformation';

type Json = any;

/**
 * The stack's functions, tables and queue, by the names serverless.yml gives
 * them (spec: register-runtime.md and reads-and-admin.md). The dashboard names
 * exactly these; the template may not have all of them yet while the relay
 * and the read routes are merged in, but it has no other.
 */
const FUNCTIONS = ['registerRuntime', 'reconcileStarting', 'publishSnapshots', 'readRuntime', 'engineVersions'].map((f) => `${PREFIX}-${f}`);
const TABLES = ['runtime-records', 'engine-versions', 'player-mappings', 'operation-log', 'idempotency', 'outbox'].map((t) => `${PREFIX}-${t}`);
const DEAD_LETTER_QUEUE = `${PREFIX}-snapshot-dead-letters`;
/** The custom metrics of the spec's telemetry table and the dimensions each carries (Powertools adds `service`). */
const CUSTOM_METRICS: Record<string, string[]> = {
  register_runtime_outcomes: ['error_code', 'outcome', 'service'],
  lobby_events_published: ['event_type', 'service'],
  lobby_event_delivery_lag: ['event_type', 'service'],
  oldest_starting_age: ['service'],
};

interface MetricRef {
  namespace: string;
  name: string;
  dimensions: Record<string, string>;
  stat?: string;
  /** Where it came from: a widget title. */
  widget: string;
}

interface SearchRef {
  namespace: string;
  schemaDimensions: string[];
  name: string;
  /** Property values it filters on, e.g. TableName -> [...]. */
  filters: Record<string, string[]>;
  widget: string;
}

/** `SEARCH('{Ns,dim1,dim2} MetricName="m" dim="v" (dim="a" OR dim="b")', 'Sum', 300)` */
function parseSearch(expression: string, widget: string): SearchRef {
  const match = /^SEARCH\('\{([^}]+)\} (.*)', '(\w+)', (\d+)\)$/.exec(expression);
  expect(match, `a SEARCH expression: ${expression}`).toBeTruthy();
  const [, schema = '', terms = ''] = match ?? [];
  const [namespace, ...schemaDimensions] = schema.split(',');
  const filters: Record<string, string[]> = {};
  for (const [, key, value] of terms.matchAll(/(\w+)="([^"]*)"/g)) {
    filters[key as string] ??= [];
    filters[key as string]?.push(value as string);
  }
  const name = filters.MetricName?.[0] as string;
  delete filters.MetricName;
  return { namespace: namespace as string, schemaDimensions, name, filters, widget };
}

// ------------------------------------------------------------------ setup

let service: PackagedService | undefined;
let resources: Record<string, Json>;
let dashboard: Json;
let body: Json;
let metrics: MetricRef[];
let searches: SearchRef[];
let alarms: Record<string, Json>;

beforeAll(async () => {
  service = await packageService(STAGE, PACKAGE_TIMEOUT_MS);
  resources = service.template.Resources;
  const dashboards = Object.values(resources).filter((r: Json) => r.Type === 'AWS::CloudWatch::Dashboard');
  expect(dashboards).toHaveLength(1);
  dashboard = dashboards[0];
  const sub = dashboard.Properties.DashboardBody['Fn::Sub'] as string;
  expect(typeof sub).toBe('string');
  // Fill the placeholders CloudFormation fills: the region, and Refs of this template's own resources.
  const resolved = sub.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
    if (name === 'AWS::Region') return REGION_PLACEHOLDER;
    expect(resources[name], `\${${name}} in the dashboard body is a resource of this template`).toBeDefined();
    return `ref:${name}`;
  });
  body = JSON.parse(resolved);
  metrics = [];
  searches = [];
  for (const widget of body.widgets) {
    for (const line of widget.properties.metrics) {
      const title = widget.properties.title as string;
      if (typeof line[0] === 'object') {
        searches.push(parseSearch(line[0].expression, title));
        continue;
      }
      const options = typeof line.at(-1) === 'object' ? line.at(-1) : {};
      const parts = (typeof line.at(-1) === 'object' ? line.slice(0, -1) : line) as string[];
      // Every metric written out in full: no "." shorthand that repeats the line above.
      expect(parts.every((p) => p !== '.' && p !== '...')).toBe(true);
      const [namespace, name, ...pairs] = parts;
      const dimensions: Record<string, string> = {};
      for (let i = 0; i < pairs.length; i += 2) dimensions[pairs[i] as string] = pairs[i + 1] as string;
      metrics.push({ namespace: namespace as string, name: name as string, dimensions, stat: options.stat ?? widget.properties.stat, widget: title });
    }
  }
  alarms = Object.fromEntries(Object.entries(resources).filter(([, r]: [string, Json]) => r.Type === 'AWS::CloudWatch::Alarm'));
}, PACKAGE_TIMEOUT_MS + 40_000);

afterAll(() => {
  service?.remove();
});

const templateNames = (type: string, property: string) =>
  Object.values(resources)
    .filter((r: Json) => r.Type === type)
    .map((r: Json) => r.Properties[property] as string);

const uniq = (values: string[]) => [...new Set(values)].sort();

// ------------------------------------------------------------------ tests

describe('the operations dashboard (stage ci)', () => {
  it('is named per stage and draws every widget in the stack region, on the 24-column grid', () => {
    expect(dashboard.Properties.DashboardName).toBe(PREFIX);
    expect(body.widgets.length).toBeGreaterThan(0);
    for (const widget of body.widgets) {
      expect(widget.type).toBe('metric');
      expect(widget.properties.region, widget.properties.title).toBe(REGION_PLACEHOLDER);
      expect(widget.x + widget.width).toBeLessThanOrEqual(24);
    }
    // No two widgets overlap.
    const cells = new Set<string>();
    for (const w of body.widgets) {
      for (let x = w.x; x < w.x + w.width; x++) {
        for (let y = w.y; y < w.y + w.height; y++) {
          expect(cells.has(`${x},${y}`), `${w.properties.title} overlaps another widget`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });

  it('shows only namespaces of this stack', () => {
    expect(uniq([...metrics, ...searches].map((m) => m.namespace))).toEqual(
      ['AWS/ApiGateway', 'AWS/DynamoDB', 'AWS/Lambda', 'AWS/SQS', 'Galaxy/GameMaster'].sort(),
    );
  });

  it('names exactly the stack functions, and every function of the template', () => {
    const lambda = metrics.filter((m) => m.namespace === 'AWS/Lambda');
    for (const m of lambda) expect(Object.keys(m.dimensions)).toEqual(['FunctionName']);
    expect(uniq(lambda.map((m) => m.dimensions.FunctionName as string))).toEqual(uniq(FUNCTIONS));
    for (const name of templateNames('AWS::Lambda::Function', 'FunctionName')) expect(FUNCTIONS).toContain(name);
    // Errors and throttles of each function.
    for (const metric of ['Errors', 'Throttles']) {
      expect(uniq(lambda.filter((m) => m.name === metric).map((m) => m.dimensions.FunctionName as string))).toEqual(uniq(FUNCTIONS));
    }
  });

  it('names exactly the stack tables, each with read and write throttles, and every table of the template', () => {
    const dynamo = metrics.filter((m) => m.namespace === 'AWS/DynamoDB');
    expect(uniq(dynamo.map((m) => m.dimensions.TableName as string))).toEqual(uniq(TABLES));
    for (const name of templateNames('AWS::DynamoDB::Table', 'TableName')) expect(TABLES).toContain(name);
    for (const metric of ['ReadThrottleEvents', 'WriteThrottleEvents']) {
      expect(uniq(dynamo.filter((m) => m.name === metric && !m.dimensions.GlobalSecondaryIndexName).map((m) => m.dimensions.TableName as string))).toEqual(
        uniq(TABLES),
      );
    }
    // The reconciler's index: the only index a function queries.
    const index = dynamo.filter((m) => m.dimensions.GlobalSecondaryIndexName);
    expect(uniq(index.map((m) => `${m.dimensions.TableName}/${m.dimensions.GlobalSecondaryIndexName}`))).toEqual([
      `${PREFIX}-runtime-records/starting_by_created_at`,
    ]);
    expect(resources.RuntimeRecordsTable.Properties.GlobalSecondaryIndexes.map((i: Json) => i.IndexName)).toContain('starting_by_created_at');
    // ThrottledRequests (per table and operation) through one search, limited to the stack tables.
    const throttled = searches.filter((s) => s.namespace === 'AWS/DynamoDB');
    expect(throttled).toHaveLength(1);
    expect(throttled[0]).toMatchObject({ name: 'ThrottledRequests', schemaDimensions: ['Operation', 'TableName'] });
    expect(uniq(throttled[0]?.filters.TableName ?? [])).toEqual(uniq(TABLES));
  });

  it('shows the outcomes by error code, reclaims, relay lag and dead letters with the dimensions the functions emit', () => {
    const custom = metrics.filter((m) => m.namespace === 'Galaxy/GameMaster');
    for (const m of custom) {
      expect(Object.keys(CUSTOM_METRICS), m.name).toContain(m.name);
      expect(Object.keys(m.dimensions).sort(), `${m.name} in "${m.widget}"`).toEqual(CUSTOM_METRICS[m.name]);
      expect(m.dimensions.service).toBe('game-master');
    }
    // Outcomes by error code: a search over the outcome metric's exact dimension set.
    const outcomes = searches.filter((s) => s.namespace === 'Galaxy/GameMaster');
    expect(outcomes).toEqual([
      expect.objectContaining({ name: 'register_runtime_outcomes', schemaDimensions: ['error_code', 'outcome', 'service'], filters: { service: ['game-master'] } }),
    ]);
    // Reconciler reclaims.
    expect(custom).toContainEqual(
      expect.objectContaining({
        name: 'register_runtime_outcomes',
        dimensions: { service: 'game-master', outcome: 'failure', error_code: 'registration_abandoned' },
        stat: 'Sum',
      }),
    );
    // The reconciler's gauge, next to the reclaims, at its own one-minute resolution.
    const gauge = custom.filter((m) => m.name === 'oldest_starting_age');
    expect(gauge).toEqual([expect.objectContaining({ dimensions: { service: 'game-master' }, stat: 'Maximum' })]);
    expect(gauge[0]?.widget).toBe(custom.find((m) => m.dimensions.error_code === 'registration_abandoned')?.widget);
    // Relay lag p50 and p99.
    const lag = custom.filter((m) => m.name === 'lobby_event_delivery_lag');
    expect(lag.map((m) => m.stat).sort()).toEqual(['p50', 'p99']);
    for (const m of lag) expect(m.dimensions.event_type).toBe('runtime_snapshot_update');
    // Dead letters of the relay's queue.
    expect(metrics.filter((m) => m.namespace === 'AWS/SQS')).toEqual([
      expect.objectContaining({ name: 'ApproximateNumberOfMessagesVisible', dimensions: { QueueName: DEAD_LETTER_QUEUE } }),
    ]);
  });

  it('shows register latency p50 and p99 of the register function, and the HTTP API of this stack', () => {
    const duration = metrics.filter((m) => m.namespace === 'AWS/Lambda' && m.name === 'Duration');
    expect(duration.map((m) => [m.dimensions.FunctionName, m.stat])).toEqual([
      [`${PREFIX}-registerRuntime`, 'p50'],
      [`${PREFIX}-registerRuntime`, 'p99'],
    ]);
    const api = metrics.filter((m) => m.namespace === 'AWS/ApiGateway');
    expect(uniq(api.map((m) => m.name))).toEqual(['4xx', '5xx', 'Count']);
    for (const m of api) expect(m.dimensions).toEqual({ ApiId: 'ref:HttpApi' });
    expect(resources.HttpApi.Type).toBe('AWS::ApiGatewayV2::Api');
  });

  it('holds no account id, no ARN and no literal region', () => {
    const sub = dashboard.Properties.DashboardBody['Fn::Sub'] as string;
    expect(sub).not.toMatch(/\d{12}/);
    expect(sub).not.toMatch(/arn:/);
    expect(sub).not.toMatch(/\b[a-z]{2}-[a-z]+-\d\b/);
  });
});

describe('the alarms on-call expects (stage ci)', () => {
  /** The alarm actions: the given topic, or the stack's own; never nobody, never a literal ARN. */
  function expectTopicActions(alarm: Json) {
    for (const key of ['AlarmActions', 'OKActions']) {
      expect(alarm.Properties[key], key).toEqual([{ Ref: 'AlarmTopic' }]);
    }
  }

  /** A metric-math alarm as CloudWatch accepts it: at most 10 metrics, one returned expression over ids it has. */
  function mathOf(alarm: Json) {
    const queries = alarm.Properties.Metrics as Json[];
    for (const key of ['Namespace', 'MetricName', 'Statistic', 'ExtendedStatistic', 'Period']) expect(alarm.Properties[key], key).toBeUndefined();
    const stats = queries.filter((q) => q.MetricStat);
    const returned = queries.filter((q) => q.ReturnData === true);
    expect(stats.length).toBeLessThanOrEqual(10);
    expect(returned).toHaveLength(1);
    for (const q of stats) expect(q.ReturnData).toBe(false);
    const ids = new Set(stats.map((q) => q.Id as string));
    const expression = returned[0].Expression as string;
    const used = [...expression.matchAll(/\b([a-z][A-Za-z0-9_]*)\b/g)].map((m) => m[1] as string);
    expect(new Set(used), expression).toEqual(ids);
    return { stats, expression };
  }

  it('alarms on a 5xx rate over 5% of the HTTP API answers in 5 minutes, from 20 requests on', () => {
    const alarm = alarms.HttpApi5xxRateAlarm;
    expect(alarm.Properties.AlarmName).toBe(`${PREFIX}-http-5xx-rate`);
    const { stats, expression } = mathOf(alarm);
    expect(
      stats.map((q: Json) => [q.Id, q.MetricStat.Metric.Namespace, q.MetricStat.Metric.MetricName, q.MetricStat.Metric.Dimensions, q.MetricStat.Stat, q.MetricStat.Period]),
    ).toEqual([
      ['errors', 'AWS/ApiGateway', '5xx', [{ Name: 'ApiId', Value: { Ref: 'HttpApi' } }], 'Sum', 300],
      ['requests', 'AWS/ApiGateway', 'Count', [{ Name: 'ApiId', Value: { Ref: 'HttpApi' } }], 'Sum', 300],
    ]);
    expect(resources.HttpApi.Type).toBe('AWS::ApiGatewayV2::Api');
    expect(expression).toBe('IF(requests >= 20, 100 * FILL(errors, 0) / requests, 0)');
    expect(alarm.Properties).toMatchObject({ Threshold: 5, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 1, TreatMissingData: 'notBreaching' });
    expectTopicActions(alarm);
  });

  it.each([
    ['DynamoDbReadThrottlesAlarm', 'ReadThrottleEvents', 'read'],
    ['DynamoDbWriteThrottlesAlarm', 'WriteThrottleEvents', 'write'],
  ])('%s sums %s of every table and the starting index, in 3 of 5 minutes', (id, metricName, kind) => {
    const alarm = alarms[id];
    expect(alarm.Properties.AlarmName).toBe(`${PREFIX}-dynamodb-${kind}-throttles`);
    const { stats, expression } = mathOf(alarm);
    for (const q of stats) {
      expect(q.MetricStat).toMatchObject({ Period: 60, Stat: 'Sum', Metric: { Namespace: 'AWS/DynamoDB', MetricName: metricName } });
    }
    const tables = stats.filter((q: Json) => q.MetricStat.Metric.Dimensions.length === 1).map((q: Json) => q.MetricStat.Metric.Dimensions[0].Value);
    expect(uniq(tables)).toEqual(uniq(TABLES));
    expect(stats.filter((q: Json) => q.MetricStat.Metric.Dimensions.length === 2).map((q: Json) => q.MetricStat.Metric.Dimensions)).toEqual([
      [
        { Name: 'TableName', Value: `${PREFIX}-runtime-records` },
        { Name: 'GlobalSecondaryIndexName', Value: 'starting_by_created_at' },
      ],
    ]);
    expect(expression).toMatch(/^SUM\(\[[a-z, ]+\]\)$/);
    expect(alarm.Properties).toMatchObject({
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 5,
      DatapointsToAlarm: 3,
      TreatMissingData: 'notBreaching',
    });
    expectTopicActions(alarm);
  });

  it('alarms when registerRuntime p99 duration passes 20 s, inside its timeout', () => {
    const alarm = alarms.RegisterRuntimeLatencyAlarm;
    const register = resources.RegisterRuntimeLambdaFunction.Properties;
    expect(alarm.Properties).toMatchObject({
      AlarmName: `${PREFIX}-registerRuntime-latency`,
      Namespace: 'AWS/Lambda',
      MetricName: 'Duration',
      Dimensions: [{ Name: 'FunctionName', Value: register.FunctionName }],
      ExtendedStatistic: 'p99',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 20000,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
    expect(alarm.Properties.Statistic).toBeUndefined();
    expect(alarm.Properties.Threshold).toBeLessThan(register.Timeout * 1000);
    expectTopicActions(alarm);
  });

  it('alarms when the reconciler has not run for 5 minutes: no data breaches', () => {
    const alarm = alarms.ReconcileStartingStoppedAlarm;
    expect(alarm.Properties).toMatchObject({
      AlarmName: `${PREFIX}-reconcileStarting-stopped`,
      Namespace: 'AWS/Lambda',
      MetricName: 'Invocations',
      Dimensions: [{ Name: 'FunctionName', Value: resources.ReconcileStartingLambdaFunction.Properties.FunctionName }],
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
    expectTopicActions(alarm);
  });

  it('creates its own alarm topic when none is given, and outputs the topic every alarm notifies', () => {
    // No alarmTopicArn param on this stage (the given-topic variant: test/unit/deploy-checks.test.ts).
    const template = service?.template;
    expect(template.Conditions ?? {}).toEqual({});
    expect(resources.AlarmTopic).toMatchObject({ Type: 'AWS::SNS::Topic', Properties: { TopicName: `${PREFIX}-alarms`, KmsMasterKeyId: 'alias/aws/sns' } });
    expect(resources.AlarmTopicPolicy.Properties.PolicyDocument.Statement).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
    expect(template.Outputs.AlarmTopicArn.Value).toEqual({ Ref: 'AlarmTopic' });
  });

  it('alarms when the relay falls behind (IteratorAge over 5 minutes, well before the 1 h dead-letter point) and when it fails', () => {
    const mapping = Object.values(resources).find((r: Json) => r.Type === 'AWS::Lambda::EventSourceMapping');
    const publish = resources.PublishSnapshotsLambdaFunction.Properties.FunctionName;
    const age = alarms.PublishSnapshotsIteratorAgeAlarm.Properties;
    expect(age).toMatchObject({
      AlarmName: `${PREFIX}-publishSnapshots-iterator-age`,
      Namespace: 'AWS/Lambda',
      MetricName: 'IteratorAge',
      Dimensions: [{ Name: 'FunctionName', Value: publish }],
      Statistic: 'Maximum',
      Threshold: 300_000,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    expect(age.Threshold + age.Period * age.EvaluationPeriods * 1000).toBeLessThan(mapping.Properties.MaximumRecordAgeInSeconds * 1000 / 2);
    expect(alarms.PublishSnapshotsErrorsAlarm.Properties).toMatchObject({
      AlarmName: `${PREFIX}-publishSnapshots-errors`,
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: publish }],
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
    // Both on the dashboard, with the alarm line.
    const relay = body.widgets.find((w: Json) => /IteratorAge/.test(w.properties.title));
    expect(relay.properties.metrics.map((m: Json) => m.slice(0, 4))).toEqual([
      ['AWS/Lambda', 'IteratorAge', 'FunctionName', publish],
      ['AWS/Lambda', 'Errors', 'FunctionName', publish],
    ]);
    expect(relay.properties.annotations.horizontal).toContainEqual(expect.objectContaining({ value: 300_000 }));
  });

  it('alarms when the oldest starting record stays older than STARTING_TIMEOUT_S + 180 s for 5 minutes', () => {
    const alarm = alarms.OldestStartingAgeAlarm;
    const startingTimeoutS = Number(
      resources.ReconcileStartingLambdaFunction.Properties.Environment.Variables.STARTING_TIMEOUT_S,
    );
    expect(startingTimeoutS).toBeGreaterThan(0);
    expect(alarm.Properties).toMatchObject({
      AlarmName: `${PREFIX}-oldest-starting-age`,
      Namespace: 'Galaxy/GameMaster',
      MetricName: 'oldest_starting_age',
      Dimensions: [{ Name: 'service', Value: 'game-master' }],
      Statistic: 'Maximum',
      Period: 60,
      EvaluationPeriods: 5,
      DatapointsToAlarm: 5,
      Threshold: startingTimeoutS + 180,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('gives every alarm a stage-prefixed name and the stage topic, and no alarm a literal ARN', () => {
    for (const [id, alarm] of Object.entries(alarms)) {
      expect(alarm.Properties.AlarmName, id).toMatch(new RegExp(`^${PREFIX}-`));
      expectTopicActions(alarm);
    }
    expect(JSON.stringify(alarms)).not.toMatch(/arn:aws/);
    expect(JSON.stringify(alarms)).not.toMatch(/\d{12}/);
  });
});
