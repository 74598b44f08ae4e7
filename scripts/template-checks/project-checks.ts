/**
 * The checks no tool makes, written once against the packaged template:
 * CloudFormation's registry schemas leave route keys, integration targets,
 * `FilterCriteria` patterns, dashboard bodies and metric math free, and no
 * tool knows which metrics this code emits.
 *
 * 1. HTTP API: the route keys are exactly the documented ones
 *    (docs/openapi.yaml), each `AWS_IAM`, each targeting an integration of
 *    the API; each integration is a Lambda proxy (payload 2.0) of a function
 *    of the template, with a timeout of at most 30 s and at least the
 *    function's own, and API Gateway is allowed to invoke that function.
 * 2. The stream mapping: every `FilterCriteria` pattern is valid, and
 *    together they let an INSERT record of the outbox stream through and no
 *    MODIFY or REMOVE.
 * 3. The dashboard body: JSON after CloudFormation's substitutions, widgets
 *    on the 24-column grid, metric rows well formed.
 * 4. Alarms: single-metric and metric-math alarms as CloudWatch accepts them
 *    (one statistic, valid periods, ids defined before use, one ReturnData).
 * 5. Every metric an alarm or widget names exists: an AWS metric by a name
 *    its namespace publishes, about a resource of this stack; a custom
 *    metric with the name, dimension set and values the code emits.
 * 6. IAM actions exist (iam-actions.ts).
 */
import type { EmittedMetric } from './emitted-metrics.ts';
import { InvalidPatternError, matches, parsePattern } from './event-pattern.ts';
import { iamActionFindings } from './iam-actions.ts';
import type { Finding, Json } from './types.ts';

export interface ProjectContext {
  /** Route keys the API must serve, e.g. `GET /internal/v1/runtimes/{game_id}`. */
  routeKeys: string[];
  /** What the code emits (emitted-metrics.ts). */
  emitted: EmittedMetric[];
}

/** The HTTP API gives up on an integration after 30 s. */
const MAX_INTEGRATION_TIMEOUT_MS = 30_000;
const STATISTICS = new Set(['SampleCount', 'Average', 'Sum', 'Minimum', 'Maximum']);
const PERCENTILE = /^(p|tm|wm|tc|ts|pr)\d{1,2}(\.\d+)?$|^(TM|WM|TC|TS|PR)\(.+\)$/;
const COMPARISONS = new Set([
  'GreaterThanOrEqualToThreshold',
  'GreaterThanThreshold',
  'LessThanThreshold',
  'LessThanOrEqualToThreshold',
  'LessThanLowerOrGreaterThanUpperThreshold',
  'LessThanLowerThreshold',
  'GreaterThanUpperThreshold',
]);
const MISSING_DATA = new Set(['breaching', 'notBreaching', 'ignore', 'missing']);
const WIDGET_TYPES = new Set(['metric', 'text', 'log', 'alarm', 'explorer', 'custom']);
/** The metrics each AWS namespace the stack uses publishes (and the one dimension that names this stack's resource). */
const AWS_METRICS: Record<string, { names: Set<string>; resourceDimension: string }> = {
  'AWS/Lambda': {
    names: new Set(['Invocations', 'Errors', 'Throttles', 'Duration', 'ConcurrentExecutions', 'IteratorAge', 'DeadLetterErrors', 'DestinationDeliveryFailures']),
    resourceDimension: 'FunctionName',
  },
  'AWS/DynamoDB': {
    names: new Set([
      'ReadThrottleEvents',
      'WriteThrottleEvents',
      'ThrottledRequests',
      'ConsumedReadCapacityUnits',
      'ConsumedWriteCapacityUnits',
      'SystemErrors',
      'UserErrors',
      'SuccessfulRequestLatency',
      'ConditionalCheckFailedRequests',
      'TransactionConflict',
    ]),
    resourceDimension: 'TableName',
  },
  'AWS/SQS': {
    names: new Set(['ApproximateNumberOfMessagesVisible', 'ApproximateAgeOfOldestMessage', 'NumberOfMessagesSent', 'NumberOfMessagesReceived', 'NumberOfMessagesDeleted']),
    resourceDimension: 'QueueName',
  },
  'AWS/ApiGateway': { names: new Set(['Count', '4xx', '5xx', 'Latency', 'IntegrationLatency', 'DataProcessed']), resourceDimension: 'ApiId' },
};

const isObject = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const validPeriod = (p: Json) => typeof p === 'number' && (p === 10 || p === 30 || (p >= 60 && p % 60 === 0));
const validStat = (s: Json) => typeof s === 'string' && (STATISTICS.has(s) || PERCENTILE.test(s));

/** A metric some alarm or widget names. Values are strings, or `ref:<LogicalId>` / `getatt:<LogicalId>.<Attr>`. */
interface MetricRef {
  namespace: string;
  name: string;
  dimensions: Record<string, string>;
  where: string;
  resource: string;
}

function dimensionValue(value: Json): string {
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  if (isObject(value) && typeof value.Ref === 'string') return `ref:${value.Ref}`;
  if (isObject(value) && Array.isArray(value['Fn::GetAtt'])) return `getatt:${value['Fn::GetAtt'].join('.')}`;
  return JSON.stringify(value);
}

export async function projectFindings(template: Json, context: ProjectContext): Promise<Finding[]> {
  const resources: Record<string, Json> = isObject(template?.Resources) ? template.Resources : {};
  const findings: Finding[] = [];
  const add = (id: string, resource: string | undefined, message: string) => findings.push({ tool: 'project', id: `project/${id}`, resource, message });
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r?.Type === type) as [string, Json][];
  const refs: MetricRef[] = [];

  checkHttpApi(resources, ofType, context, add);
  checkStreamMappings(resources, ofType, add);
  checkDashboards(resources, ofType, refs, add);
  checkAlarms(ofType, refs, add);
  checkMetricRefs(ofType, refs, context, add);
  findings.push(...(await iamActionFindings(template)));
  return findings;
}

type Add = (id: string, resource: string | undefined, message: string) => void;
type OfType = (type: string) => [string, Json][];

// ------------------------------------------------------------------ HTTP API

function checkHttpApi(resources: Record<string, Json>, ofType: OfType, context: ProjectContext, add: Add): void {
  const apis = ofType('AWS::ApiGatewayV2::Api');
  const routes = ofType('AWS::ApiGatewayV2::Route');
  const keys = routes.map(([, r]) => r.Properties?.RouteKey as string);
  const expected = [...context.routeKeys].sort();
  const actual = [...keys].sort();
  if (JSON.stringify(expected) !== JSON.stringify(actual)) {
    add('routes', undefined, `route keys ${JSON.stringify(actual)} differ from the documented ${JSON.stringify(expected)}`);
  }
  const integrationsUsed = new Set<string>();
  for (const [id, route] of routes) {
    const p = route.Properties ?? {};
    if (!/^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|ANY) \/[^\s]*$/.test(p.RouteKey ?? '')) add('routes', id, `route key "${p.RouteKey}" is not "METHOD /path"`);
    if (p.AuthorizationType !== 'AWS_IAM') add('routes', id, `AuthorizationType is ${JSON.stringify(p.AuthorizationType)}, not AWS_IAM`);
    if (!apis.some(([apiId]) => p.ApiId?.Ref === apiId)) add('routes', id, 'ApiId is not the HTTP API of this template');
    const join = p.Target?.['Fn::Join'];
    const integrationId = Array.isArray(join) && join[0] === '/' && join[1]?.[0] === 'integrations' ? join[1]?.[1]?.Ref : undefined;
    if (!integrationId || resources[integrationId]?.Type !== 'AWS::ApiGatewayV2::Integration') {
      add('routes', id, `Target ${JSON.stringify(p.Target)} is not integrations/<an integration of this template>`);
    } else {
      integrationsUsed.add(integrationId);
    }
  }
  for (const [id, integration] of ofType('AWS::ApiGatewayV2::Integration')) {
    const p = integration.Properties ?? {};
    if (!integrationsUsed.has(id)) add('integrations', id, 'no route targets this integration');
    if (p.IntegrationType !== 'AWS_PROXY') add('integrations', id, `IntegrationType ${p.IntegrationType}, not AWS_PROXY`);
    if (p.PayloadFormatVersion !== '2.0') add('integrations', id, `PayloadFormatVersion ${p.PayloadFormatVersion}, not 2.0 (the handlers read the 2.0 event)`);
    const fnId = p.IntegrationUri?.['Fn::GetAtt']?.[0] as string | undefined;
    const fn = fnId ? resources[fnId] : undefined;
    if (!fnId || fn?.Type !== 'AWS::Lambda::Function' || p.IntegrationUri['Fn::GetAtt'][1] !== 'Arn') {
      add('integrations', id, `IntegrationUri ${JSON.stringify(p.IntegrationUri)} is not the ARN of a function of this template`);
      continue;
    }
    const timeoutMs = p.TimeoutInMillis ?? MAX_INTEGRATION_TIMEOUT_MS;
    const fnTimeoutMs = (fn.Properties?.Timeout ?? 3) * 1000;
    if (typeof timeoutMs !== 'number' || timeoutMs > MAX_INTEGRATION_TIMEOUT_MS || timeoutMs < 50) {
      add('integrations', id, `TimeoutInMillis ${timeoutMs} is outside 50..30000`);
    } else if (timeoutMs < fnTimeoutMs) {
      add('integrations', id, `TimeoutInMillis ${timeoutMs} is shorter than ${fnId}'s ${fnTimeoutMs / 1000} s timeout: API Gateway would answer 503 while the function still runs`);
    }
    if (fnTimeoutMs > MAX_INTEGRATION_TIMEOUT_MS) add('integrations', id, `${fnId} may run ${fnTimeoutMs / 1000} s, longer than the API waits (30 s)`);
    const permitted = ofType('AWS::Lambda::Permission').some(([, perm]) => {
      const q = perm.Properties ?? {};
      return (
        q.FunctionName?.['Fn::GetAtt']?.[0] === fnId &&
        q.Action === 'lambda:InvokeFunction' &&
        q.Principal === 'apigateway.amazonaws.com' &&
        JSON.stringify(q.SourceArn ?? '').includes(JSON.stringify({ Ref: apis[0]?.[0] }))
      );
    });
    if (!permitted) add('integrations', id, `no Lambda::Permission lets this API invoke ${fnId}`);
  }
}

// ------------------------------------------------------------------ stream mapping

/** A record of the outbox stream as Lambda filters it (the item as the commit writes it). */
function outboxRecord(eventName: 'INSERT' | 'MODIFY' | 'REMOVE', keyName: string): Json {
  const image = {
    [keyName]: { S: 'op-1' },
    game_id: { S: 'g-1' },
    detail_type: { S: 'runtime_snapshot_update' },
    detail: { S: '{"game_id":"g-1"}' },
    created_at: { S: '2026-11-24T10:00:00.000Z' },
    expiration: { N: '1790000000' },
  };
  return {
    eventID: '1',
    eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'us-east-1',
    dynamodb: {
      Keys: { [keyName]: { S: 'op-1' } },
      ...(eventName === 'REMOVE' ? { OldImage: image } : { NewImage: image }),
      SequenceNumber: '100',
      SizeBytes: 200,
      StreamViewType: 'NEW_IMAGE',
    },
    ...(eventName === 'REMOVE' ? { userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' } } : {}),
  };
}

function checkStreamMappings(resources: Record<string, Json>, ofType: OfType, add: Add): void {
  for (const [id, mapping] of ofType('AWS::Lambda::EventSourceMapping')) {
    const p = mapping.Properties ?? {};
    const tableId = p.EventSourceArn?.['Fn::GetAtt']?.[0] as string | undefined;
    const table = tableId ? resources[tableId] : undefined;
    if (table?.Type !== 'AWS::DynamoDB::Table' || p.EventSourceArn['Fn::GetAtt'][1] !== 'StreamArn' || !table.Properties?.StreamSpecification) {
      add('stream-mapping', id, 'EventSourceArn is not the stream of a table of this template');
      continue;
    }
    // Bounds Lambda enforces for a stream mapping that the registry schema leaves open.
    const bounded = (name: string, value: Json, ok: (v: number) => boolean, bounds: string) => {
      if (value !== undefined && !(Number.isInteger(value) && ok(value))) add('stream-mapping', id, `${name} ${JSON.stringify(value)} is outside ${bounds}`);
    };
    bounded('MaximumRecordAgeInSeconds', p.MaximumRecordAgeInSeconds, (v) => v === -1 || (v >= 60 && v <= 604_800), '-1 or 60..604800');
    bounded('MaximumRetryAttempts', p.MaximumRetryAttempts, (v) => v >= -1 && v <= 10_000, '-1..10000');
    bounded('BatchSize', p.BatchSize, (v) => v >= 1 && v <= 10_000, '1..10000');
    bounded('ParallelizationFactor', p.ParallelizationFactor, (v) => v >= 1 && v <= 10, '1..10');
    // The relay alarm must fire while a late record can still be delivered.
    const functionName = resources[p.FunctionName?.['Fn::GetAtt']?.[0]]?.Properties?.FunctionName;
    const maxAgeMs = (p.MaximumRecordAgeInSeconds ?? -1) * 1000;
    const ageAlarms = ofType('AWS::CloudWatch::Alarm').filter(
      ([, a]) => a.Properties?.MetricName === 'IteratorAge' && (a.Properties?.Dimensions ?? []).some((d: Json) => d.Name === 'FunctionName' && d.Value === functionName),
    );
    if (ageAlarms.length === 0) add('stream-mapping', id, `no IteratorAge alarm on ${functionName}: a relay falling behind would be seen only when records are dead-lettered`);
    for (const [alarmId, alarm] of ageAlarms) {
      if (maxAgeMs > 0 && !(alarm.Properties.Threshold < maxAgeMs / 2)) {
        add('stream-mapping', alarmId, `IteratorAge threshold ${alarm.Properties.Threshold} ms is not well before the ${maxAgeMs} ms dead-letter point`);
      }
    }
    const keyName = (table.Properties.KeySchema ?? []).find((k: Json) => k.KeyType === 'HASH')?.AttributeName ?? 'event_id';
    const filters = p.FilterCriteria?.Filters;
    if (!Array.isArray(filters) || filters.length === 0) {
      add('stream-filter', id, 'no FilterCriteria: every MODIFY and REMOVE (TTL expiry) would invoke the relay');
      continue;
    }
    const patterns: Record<string, Json>[] = [];
    for (const filter of filters) {
      try {
        patterns.push(parsePattern(filter?.Pattern));
      } catch (error) {
        const reason = error instanceof InvalidPatternError ? error.message : String(error);
        add('stream-filter', id, `invalid filter pattern ${JSON.stringify(filter?.Pattern)}: ${reason}`);
      }
    }
    if (patterns.length !== filters.length) continue;
    const passes = (eventName: 'INSERT' | 'MODIFY' | 'REMOVE') => patterns.some((pattern) => matches(pattern, outboxRecord(eventName, keyName)));
    if (!passes('INSERT')) add('stream-filter', id, 'the filter drops an INSERT record of the outbox stream: no event would ever be delivered');
    for (const other of ['MODIFY', 'REMOVE'] as const) {
      if (passes(other)) add('stream-filter', id, `the filter lets a ${other} record of the outbox stream through`);
    }
  }
}

// ------------------------------------------------------------------ dashboard

function checkDashboards(resources: Record<string, Json>, ofType: OfType, refs: MetricRef[], add: Add): void {
  for (const [id, dashboard] of ofType('AWS::CloudWatch::Dashboard')) {
    const raw = dashboard.Properties?.DashboardBody;
    let text: string;
    if (typeof raw === 'string') text = raw;
    else if (typeof raw?.['Fn::Sub'] === 'string') {
      let unknown: string | undefined;
      text = raw['Fn::Sub'].replace(/\$\{([^}!][^}]*)\}/g, (_: string, name: string) => {
        if (name.startsWith('AWS::')) return 'pseudo';
        const logicalId = name.split('.')[0] as string;
        if (!resources[logicalId]) unknown = name;
        return `ref:${name}`;
      });
      if (unknown) {
        add('dashboard', id, `\${${unknown}} in the body is not a resource of this template`);
        continue;
      }
    } else {
      add('dashboard', id, 'DashboardBody is neither a string nor one Fn::Sub string');
      continue;
    }
    let body: Json;
    try {
      body = JSON.parse(text);
    } catch (error) {
      add('dashboard', id, `the body is not JSON: ${(error as Error).message}`);
      continue;
    }
    if (!Array.isArray(body?.widgets) || body.widgets.length === 0) {
      add('dashboard', id, 'the body has no widgets');
      continue;
    }
    body.widgets.forEach((widget: Json, i: number) => {
      const where = `widget ${i} (${widget?.properties?.title ?? 'untitled'})`;
      if (!WIDGET_TYPES.has(widget?.type)) add('dashboard', id, `${where}: unknown type ${JSON.stringify(widget?.type)}`);
      for (const key of ['x', 'y', 'width', 'height']) {
        if (widget?.[key] !== undefined && !(Number.isInteger(widget[key]) && widget[key] >= 0)) add('dashboard', id, `${where}: ${key} is not a non-negative integer`);
      }
      if ((widget?.x ?? 0) + (widget?.width ?? 6) > 24) add('dashboard', id, `${where}: runs past the 24-column grid`);
      if (widget?.type !== 'metric') return;
      const props = widget.properties ?? {};
      if (props.period !== undefined && !validPeriod(props.period)) add('dashboard', id, `${where}: period ${props.period} is not 10, 30 or a multiple of 60`);
      if (props.stat !== undefined && !validStat(props.stat)) add('dashboard', id, `${where}: stat ${JSON.stringify(props.stat)} is not a statistic`);
      if (!Array.isArray(props.metrics) || props.metrics.length === 0) {
        add('dashboard', id, `${where}: no metrics`);
        return;
      }
      for (const row of props.metrics) {
        if (!Array.isArray(row) || row.length === 0) {
          add('dashboard', id, `${where}: a metric row is not a non-empty array`);
          continue;
        }
        if (isObject(row[0])) {
          if (typeof row[0].expression !== 'string') add('dashboard', id, `${where}: an expression row has no expression`);
          else parseSearch(row[0].expression, `${id} ${where}`, id, refs, add);
          continue;
        }
        const options = isObject(row.at(-1)) ? row.at(-1) : {};
        const parts = isObject(row.at(-1)) ? row.slice(0, -1) : row;
        if (parts.length < 2 || parts.length % 2 !== 0 || !parts.every((p: Json) => typeof p === 'string')) {
          add('dashboard', id, `${where}: row ${JSON.stringify(row)} is not [namespace, name, (dimension, value)*, {options}?]`);
          continue;
        }
        if (parts.some((p: string) => p === '.' || p === '...')) {
          add('dashboard', id, `${where}: write every row out in full (no "." shorthand)`);
          continue;
        }
        if (options.stat !== undefined && !validStat(options.stat)) add('dashboard', id, `${where}: stat ${JSON.stringify(options.stat)} is not a statistic`);
        if (options.period !== undefined && !validPeriod(options.period)) add('dashboard', id, `${where}: period ${options.period} is invalid`);
        const [namespace, name, ...pairs] = parts as string[];
        const dimensions: Record<string, string> = {};
        for (let k = 0; k < pairs.length; k += 2) dimensions[pairs[k] as string] = pairs[k + 1] as string;
        refs.push({ namespace: namespace as string, name: name as string, dimensions, where, resource: id });
      }
    });
  }
}

/** `SEARCH('{Ns,dim1,dim2} MetricName="m" dim="v" ...', 'Sum', 300)`: a search over one exact dimension set. */
function parseSearch(expression: string, where: string, resource: string, refs: MetricRef[], add: Add): void {
  if (!expression.startsWith('SEARCH(')) return;
  const match = /^SEARCH\('\{([^}]+)\} (.*)', '(\w+)', (\d+)\)$/.exec(expression);
  if (!match) {
    add('dashboard', resource, `${where}: SEARCH expression not understood: ${expression}`);
    return;
  }
  const [, schema = '', terms = '', stat = '', period = ''] = match;
  if (!validStat(stat) || !validPeriod(Number(period))) add('dashboard', resource, `${where}: SEARCH statistic or period invalid`);
  const [namespace = '', ...dimensionNames] = schema.split(',');
  const name = /MetricName="([^"]+)"/.exec(terms)?.[1] ?? '';
  const dimensions: Record<string, string> = Object.fromEntries(dimensionNames.map((d) => [d, '*']));
  const seen: Record<string, string[]> = {};
  for (const [, key = '', value = ''] of terms.matchAll(/(\w+)="([^"]*)"/g)) {
    if (key === 'MetricName') continue;
    if (!(key in dimensions)) {
      add('dashboard', resource, `${where}: SEARCH filters on ${key}, which is not in its schema {${schema}}`);
      continue;
    }
    seen[key] = [...(seen[key] ?? []), value];
  }
  for (const [key, values] of Object.entries(seen)) dimensions[key] = values.join('|');
  refs.push({ namespace, name, dimensions, where, resource });
}

// ------------------------------------------------------------------ alarms

function checkAlarms(ofType: OfType, refs: MetricRef[], add: Add): void {
  for (const [id, alarm] of ofType('AWS::CloudWatch::Alarm')) {
    const p = alarm.Properties ?? {};
    if (!COMPARISONS.has(p.ComparisonOperator)) add('alarm', id, `ComparisonOperator ${JSON.stringify(p.ComparisonOperator)} is not one CloudWatch knows`);
    if (p.TreatMissingData !== undefined && !MISSING_DATA.has(p.TreatMissingData)) add('alarm', id, `TreatMissingData ${JSON.stringify(p.TreatMissingData)} is invalid`);
    if (!Number.isInteger(p.EvaluationPeriods) || p.EvaluationPeriods < 1) add('alarm', id, 'EvaluationPeriods must be a positive integer');
    if (p.DatapointsToAlarm !== undefined && !(Number.isInteger(p.DatapointsToAlarm) && p.DatapointsToAlarm >= 1 && p.DatapointsToAlarm <= p.EvaluationPeriods)) {
      add('alarm', id, `DatapointsToAlarm ${p.DatapointsToAlarm} must be 1..EvaluationPeriods (${p.EvaluationPeriods})`);
    }
    if (typeof p.Threshold !== 'number') add('alarm', id, 'Threshold is not a number');
    let period: number | undefined;
    if (p.Metrics !== undefined) {
      for (const key of ['Namespace', 'MetricName', 'Statistic', 'ExtendedStatistic', 'Period', 'Dimensions', 'Unit']) {
        if (p[key] !== undefined) add('alarm-math', id, `${key} set beside Metrics: CloudWatch refuses the alarm`);
      }
      period = checkMetricMath(id, p.Metrics, refs, add);
    } else {
      if (typeof p.Namespace !== 'string' || typeof p.MetricName !== 'string') add('alarm', id, 'no Namespace/MetricName and no Metrics');
      const stats = [p.Statistic, p.ExtendedStatistic].filter((s) => s !== undefined);
      if (stats.length !== 1) add('alarm', id, 'exactly one of Statistic and ExtendedStatistic');
      if (p.Statistic !== undefined && !STATISTICS.has(p.Statistic)) add('alarm', id, `Statistic ${JSON.stringify(p.Statistic)} is invalid`);
      if (p.ExtendedStatistic !== undefined && !PERCENTILE.test(p.ExtendedStatistic)) add('alarm', id, `ExtendedStatistic ${JSON.stringify(p.ExtendedStatistic)} is invalid`);
      if (!validPeriod(p.Period)) add('alarm', id, `Period ${p.Period} is not 10, 30 or a multiple of 60`);
      period = p.Period;
      const dimensions: Record<string, string> = {};
      for (const d of p.Dimensions ?? []) dimensions[d.Name] = dimensionValue(d.Value);
      refs.push({ namespace: p.Namespace, name: p.MetricName, dimensions, where: 'alarm', resource: id });
    }
    if (typeof period === 'number' && Number.isInteger(p.EvaluationPeriods) && period * p.EvaluationPeriods > 86_400) {
      add('alarm', id, `Period x EvaluationPeriods (${period * p.EvaluationPeriods} s) exceeds one day`);
    }
  }
}

/** Returns the period of the returned series (the smallest MetricStat period), checking the math as CloudWatch would. */
function checkMetricMath(id: string, queries: Json, refs: MetricRef[], add: Add): number | undefined {
  if (!Array.isArray(queries) || queries.length === 0) {
    add('alarm-math', id, 'Metrics is empty');
    return undefined;
  }
  const ids = new Set<string>();
  const periods: number[] = [];
  let returned = 0;
  let stats = 0;
  for (const q of queries) {
    if (typeof q?.Id !== 'string' || !/^[a-z][A-Za-z0-9_]*$/.test(q.Id)) add('alarm-math', id, `query id ${JSON.stringify(q?.Id)} must start with a lowercase letter`);
    else if (ids.has(q.Id)) add('alarm-math', id, `query id ${q.Id} is used twice`);
    ids.add(q?.Id);
    if (q?.ReturnData !== false) returned++;
    if ((q?.MetricStat === undefined) === (q?.Expression === undefined)) add('alarm-math', id, `query ${q?.Id}: exactly one of MetricStat and Expression`);
    if (q?.MetricStat) {
      stats++;
      const m = q.MetricStat;
      if (!validStat(m.Stat)) add('alarm-math', id, `query ${q.Id}: Stat ${JSON.stringify(m.Stat)} is invalid`);
      if (!validPeriod(m.Period)) add('alarm-math', id, `query ${q.Id}: Period ${m.Period} is invalid`);
      else periods.push(m.Period);
      const dimensions: Record<string, string> = {};
      for (const d of m.Metric?.Dimensions ?? []) dimensions[d.Name] = dimensionValue(d.Value);
      refs.push({ namespace: m.Metric?.Namespace, name: m.Metric?.MetricName, dimensions, where: `alarm query ${q.Id}`, resource: id });
    }
  }
  if (stats > 10) add('alarm-math', id, `${stats} metrics: an alarm takes at most 10`);
  if (returned !== 1) add('alarm-math', id, `${returned} queries return data: exactly one must (ReturnData false on the others)`);
  for (const q of queries) {
    if (typeof q?.Expression !== 'string') continue;
    const words = q.Expression.replace(/"[^"]*"|'[^']*'/g, '').match(/\b[A-Za-z_][A-Za-z0-9_]*\b(?!\s*\()/g) ?? [];
    for (const word of words) {
      if (/^[a-z]/.test(word) && !ids.has(word)) add('alarm-math', id, `expression of ${q.Id} uses "${word}", which no query defines`);
      if (word === q.Id) add('alarm-math', id, `expression of ${q.Id} refers to itself`);
    }
  }
  return periods.length ? Math.min(...periods) : undefined;
}

// ------------------------------------------------------------------ metric names

function checkMetricRefs(ofType: OfType, refs: MetricRef[], context: ProjectContext, add: Add): void {
  const names = (type: string, property: string) => new Set(ofType(type).map(([, r]) => r.Properties?.[property]));
  const stackNames: Record<string, Set<string>> = {
    FunctionName: names('AWS::Lambda::Function', 'FunctionName'),
    TableName: names('AWS::DynamoDB::Table', 'TableName'),
    QueueName: names('AWS::SQS::Queue', 'QueueName'),
  };
  for (const [id] of ofType('AWS::SQS::Queue')) stackNames.QueueName?.add(`getatt:${id}.QueueName`);
  const apiIds = new Set(ofType('AWS::ApiGatewayV2::Api').map(([id]) => `ref:${id}`));
  const customNamespaces = new Set(context.emitted.map((m) => m.namespace));
  for (const ref of refs) {
    const label = `${ref.where}: ${ref.namespace} ${ref.name}`;
    const aws = AWS_METRICS[ref.namespace];
    if (aws) {
      if (!aws.names.has(ref.name)) add('metric-name', ref.resource, `${label}: ${ref.namespace} publishes no metric "${ref.name}"`);
      const value = ref.dimensions[aws.resourceDimension];
      if (value === undefined) {
        add('metric-name', ref.resource, `${label}: no ${aws.resourceDimension} dimension (not this stack's resource)`);
        continue;
      }
      if (aws.resourceDimension === 'ApiId') {
        if (!apiIds.has(value)) add('metric-name', ref.resource, `${label}: ApiId ${value} is not this stack's HTTP API`);
      } else if (value !== '*' && !value.split('|').every((v) => stackNames[aws.resourceDimension]?.has(v))) {
        add('metric-name', ref.resource, `${label}: ${aws.resourceDimension} "${value}" is not a resource of this stack`);
      }
      continue;
    }
    if (!customNamespaces.has(ref.namespace)) {
      add('custom-metric', ref.resource, `${label}: namespace "${ref.namespace}" is neither an AWS namespace of this stack nor the one the code emits to (${[...customNamespaces].join(', ')})`);
      continue;
    }
    const set = Object.keys(ref.dimensions).sort();
    const emitted = context.emitted.filter((m) => m.namespace === ref.namespace && m.name === ref.name);
    if (emitted.length === 0) {
      add('custom-metric', ref.resource, `${label}: the code never emits "${ref.name}"`);
      continue;
    }
    const sameSet = emitted.filter((m) => JSON.stringify(m.dimensionNames) === JSON.stringify(set));
    if (sameSet.length === 0) {
      add(
        'custom-metric',
        ref.resource,
        `${label}: dimensions [${set.join(', ')}] but the code emits [${[...new Set(emitted.map((m) => m.dimensionNames.join(', ')))].join('] or [')}]: the alarm would wait on a metric that never comes`,
      );
      continue;
    }
    const valueEmitted = sameSet.some((m) => set.every((d) => ref.dimensions[d] === '*' || m.dimensions[d] === ref.dimensions[d]));
    if (!valueEmitted) add('custom-metric', ref.resource, `${label}: the code never emits it with ${JSON.stringify(ref.dimensions)}`);
  }
}
