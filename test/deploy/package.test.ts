/**
 * What ops deploy: runs `serverless package --stage ci` once, offline and
 * without AWS credentials (as CI does), and checks the security-relevant
 * parts of the generated CloudFormation and the zipped bundles.
 *
 * The package is built in a scratch copy of the service (node_modules
 * linked, not copied), so the run leaves no .esbuild/ or .serverless/ in the
 * work tree and cannot disturb a `npm run dev` that is watching it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PackagedService, packageService, readZip, unpackFunction } from '../support/bundled-lambda.ts';
import { SPEC_ROUTE_KEYS } from '../support/http-events.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const STAGE = 'ci';
const PACKAGE_TIMEOUT_MS = 200_000;

type Json = any;

// ---------------------------------------------------------------- helpers

/** "RuntimeRecordsTable", "RuntimeRecordsTable/index/x", "OutboxTable.StreamArn", "EventBus", a log group ARN, or "*". */
function resourceName(resource: Json): string {
  if (typeof resource === 'string') return resource;
  if (resource?.['Fn::GetAtt']) {
    const [logicalId, attribute] = resource['Fn::GetAtt'] as [string, string];
    expect(['Arn', 'StreamArn'], `GetAtt of ${logicalId}`).toContain(attribute);
    return attribute === 'Arn' ? logicalId : `${logicalId}.${attribute}`;
  }
  if (typeof resource?.['Fn::Sub'] === 'string') {
    const sub = resource['Fn::Sub'] as string;
    const match = /^\$\{(\w+)\.Arn\}(\/.*)?$/.exec(sub);
    if (match) return `${match[1]}${match[2] ?? ''}`;
    return sub;
  }
  return JSON.stringify(resource);
}

interface Grant {
  actions: Set<string>;
  resources: string[];
}

/** Every Allow statement of a role: actions and resources. */
function grantsOf(role: Json): Grant[] {
  const grants: Grant[] = [];
  for (const policy of role.Properties.Policies ?? []) {
    for (const statement of policy.PolicyDocument.Statement) {
      expect(statement.Effect).toBe('Allow');
      expect(statement.NotAction, 'NotAction widens a grant').toBeUndefined();
      expect(statement.NotResource, 'NotResource widens a grant').toBeUndefined();
      const actions = ([] as string[]).concat(statement.Action);
      const resources = ([] as Json[]).concat(statement.Resource).map(resourceName);
      grants.push({ actions: new Set(actions), resources });
    }
  }
  return grants;
}

/** Resource -> sorted actions, for the DynamoDB, EventBridge and SQS grants (logs left out). */
function dataGrants(role: Json): Record<string, string[]> {
  const byResource: Record<string, Set<string>> = {};
  for (const grant of grantsOf(role)) {
    const data = [...grant.actions].filter((a) => !a.startsWith('logs:'));
    if (data.length === 0) continue;
    expect(data.length, 'a statement mixes logs and data actions').toBe(grant.actions.size);
    for (const resource of grant.resources) {
      byResource[resource] ??= new Set();
      for (const action of data) byResource[resource].add(action);
    }
  }
  return Object.fromEntries(Object.entries(byResource).map(([r, a]) => [r, [...a].sort()]));
}

const sorted = (...actions: string[]) => [...actions].sort();

// ------------------------------------------------------------------ setup

let service: PackagedService | undefined;
let work: string;
let pkg: string;
let template: Json;
let resources: Record<string, Json>;
let packageOutput = '';

function fn(logicalId: string): Json {
  const resource = resources[logicalId];
  expect(resource?.Type, `${logicalId} is a Lambda function`).toBe('AWS::Lambda::Function');
  return resource;
}

function roleOf(logicalId: string): Json {
  const roleRef = fn(logicalId).Properties.Role;
  const roleId = roleRef?.['Fn::GetAtt']?.[0] as string | undefined;
  expect(roleId, `${logicalId} has a role of its own in the template`).toBeTruthy();
  return resources[roleId as string];
}

const REGISTER = 'RegisterRuntimeLambdaFunction';
const RECONCILE = 'ReconcileStartingLambdaFunction';
const READ = 'ReadRuntimeLambdaFunction';
const VERSIONS = 'EngineVersionsLambdaFunction';
const PUBLISH = 'PublishSnapshotsLambdaFunction';
const FUNCTIONS = [REGISTER, RECONCILE, READ, VERSIONS, PUBLISH];
/** Every DynamoDB action that changes a table. */
const WRITES = new Set([
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:PartiQLInsert',
  'dynamodb:PartiQLUpdate',
  'dynamodb:PartiQLDelete',
]);

beforeAll(async () => {
  service = await packageService(STAGE, PACKAGE_TIMEOUT_MS);
  ({ work, pkg, template, output: packageOutput } = service);
  resources = template.Resources;
}, PACKAGE_TIMEOUT_MS + 40_000);

afterAll(() => {
  service?.remove();
});

// ------------------------------------------------------------------ tests

describe('serverless package (stage ci, no AWS credentials)', () => {
  it('packages offline, one zip per function', () => {
    expect(packageOutput).not.toMatch(/credentials/i);
    expect(existsSync(join(pkg, 'registerRuntime.zip'))).toBe(true);
    expect(existsSync(join(pkg, 'reconcileStarting.zip'))).toBe(true);
    expect(existsSync(join(pkg, 'readRuntime.zip'))).toBe(true);
    expect(existsSync(join(pkg, 'engineVersions.zip'))).toBe(true);
    expect(existsSync(join(pkg, 'publishSnapshots.zip'))).toBe(true);
  });

  it('protects every route with IAM (SigV4): no anonymous route at all', () => {
    const routes = Object.values(resources).filter((r: Json) => r.Type === 'AWS::ApiGatewayV2::Route');
    expect(routes.map((r: Json) => r.Properties.RouteKey).sort()).toEqual(
      [...SPEC_ROUTE_KEYS].sort(),
    );
    for (const route of routes) expect(route.Properties.AuthorizationType).toBe('AWS_IAM');
    const api = Object.values(resources).find((r: Json) => r.Type === 'AWS::ApiGatewayV2::Api');
    expect(api.Properties.ProtocolType).toBe('HTTP');
  });

  it('runs every function on nodejs24.x, arm64, with log retention', () => {
    const functions = Object.entries(resources).filter(([, r]: [string, Json]) => r.Type === 'AWS::Lambda::Function');
    expect(functions.map(([id]) => id).sort()).toEqual([...FUNCTIONS].sort());
    for (const [id, f] of functions as [string, Json][]) {
      expect(f.Properties.Runtime, id).toBe('nodejs24.x');
      expect(f.Properties.Architectures, id).toEqual(['arm64']);
      expect(f.Properties.Handler, id).toMatch(
        /^functions\/(register-runtime|reconcile-starting|read-runtime|engine-versions|publish-snapshots)\/handler\.handler$/,
      );
    }
    const logGroups = Object.values(resources).filter((r: Json) => r.Type === 'AWS::Logs::LogGroup');
    expect(logGroups.length).toBeGreaterThanOrEqual(3);
    for (const group of logGroups) expect(group.Properties.RetentionInDays).toBeGreaterThan(0);
  });

  it('gives no IAM policy a "*" resource or a wildcard action', () => {
    const policies = Object.entries(resources).filter(([, r]: [string, Json]) => r.Type === 'AWS::IAM::Role' || r.Type === 'AWS::IAM::Policy');
    expect(policies.length).toBeGreaterThan(0);
    for (const [id, role] of policies as [string, Json][]) {
      for (const grant of grantsOf(role.Type === 'AWS::IAM::Policy' ? { Properties: { Policies: [role.Properties] } } : role)) {
        expect(grant.resources, id).not.toContain('*');
        for (const action of grant.actions) expect(action, id).not.toMatch(/\*/);
      }
    }
    // The only managed policy a function role may carry is Lambda's VPC one (not in this stage).
    for (const id of FUNCTIONS) expect(roleOf(id).Properties.ManagedPolicyArns ?? []).toEqual([]);
  });

  it('gives each function its own role, scoped to its own log group', () => {
    const roleIds = FUNCTIONS.map((id) => fn(id).Properties.Role['Fn::GetAtt'][0]);
    expect(new Set(roleIds).size).toBe(FUNCTIONS.length);
    for (const [id, role] of FUNCTIONS.map((id) => [id, roleOf(id)] as const)) {
      const name = fn(id).Properties.FunctionName as string;
      for (const grant of grantsOf(role).filter((g) => [...g.actions].some((a) => a.startsWith('logs:')))) {
        for (const resource of grant.resources) expect(resource).toContain(`:log-group:/aws/lambda/${name}:`);
      }
    }
  });

  it('grants registerRuntime exactly the DynamoDB actions it uses: the outbox item put only, and no EventBridge at all', () => {
    expect(dataGrants(roleOf(REGISTER))).toEqual({
      RuntimeRecordsTable: sorted('dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem', 'dynamodb:DeleteItem'),
      PlayerMappingsTable: sorted('dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:DeleteItem'),
      OperationLogTable: ['dynamodb:PutItem'],
      EngineVersionsTable: ['dynamodb:BatchGetItem'],
      IdempotencyTable: sorted('dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'),
      OutboxTable: ['dynamodb:PutItem'],
    });
  });

  it('grants publishSnapshots exactly the outbox stream, one batch read, the bus and the dead-letter queue', () => {
    expect(dataGrants(roleOf(PUBLISH))).toEqual({
      // No ListStreams: it has no resource type, so on the stream ARN it granted nothing (infra/deploy-checks.cjs drops it).
      'OutboxTable.StreamArn': sorted('dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'),
      OutboxTable: ['dynamodb:BatchGetItem'],
      EventBus: ['events:PutEvents'],
      SnapshotDeadLetterQueue: ['sqs:SendMessage'],
    });
  });

  it('feeds publishSnapshots from the outbox stream: inserts only, by 10, partial batch responses, bisect, an hour of retries, then the dead-letter queue', () => {
    const mappings = Object.values(resources).filter((r: Json) => r.Type === 'AWS::Lambda::EventSourceMapping');
    expect(mappings).toHaveLength(1);
    const props = mappings[0].Properties;
    expect(props.FunctionName).toEqual({ 'Fn::GetAtt': [PUBLISH, 'Arn'] });
    expect(props).toMatchObject({
      EventSourceArn: { 'Fn::GetAtt': ['OutboxTable', 'StreamArn'] },
      BatchSize: 10,
      StartingPosition: 'TRIM_HORIZON',
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRecordAgeInSeconds: 3600,
      MaximumRetryAttempts: -1,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['SnapshotDeadLetterQueue', 'Arn'] } } },
      Enabled: true,
    });
    expect(props.FilterCriteria.Filters.map((f: Json) => JSON.parse(f.Pattern))).toEqual([{ eventName: ['INSERT'] }]);
  });

  it('has the dead-letter queue, alarmed at its first message', () => {
    expect(resources.SnapshotDeadLetterQueue).toMatchObject({ Type: 'AWS::SQS::Queue', Properties: { QueueName: `game-master-${STAGE}-snapshot-dead-letters` } });
    const alarms = Object.values(resources).filter(
      (r: Json) => r.Type === 'AWS::CloudWatch::Alarm' && r.Properties.Namespace === 'AWS/SQS',
    );
    expect(alarms).toHaveLength(1);
    expect(alarms[0].Properties).toMatchObject({
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['SnapshotDeadLetterQueue', 'QueueName'] } }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [{ Ref: 'AlarmTopic' }],
    });
    // Retained with the stack, TLS only.
    expect(resources.SnapshotDeadLetterQueue).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    const policies = Object.values(resources).filter((r: Json) => r.Type === 'AWS::SQS::QueuePolicy');
    expect(policies).toHaveLength(1);
    expect(policies[0].Properties.Queues).toEqual([{ Ref: 'SnapshotDeadLetterQueue' }]);
    expect(policies[0].Properties.PolicyDocument.Statement).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Principal: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
  });

  it('grants reconcileStarting exactly what it uses: the starting index, never a Scan', () => {
    expect(dataGrants(roleOf(RECONCILE))).toEqual({
      'RuntimeRecordsTable/index/starting_by_created_at': ['dynamodb:Query'],
      RuntimeRecordsTable: sorted('dynamodb:UpdateItem', 'dynamodb:DeleteItem'),
      PlayerMappingsTable: sorted('dynamodb:Query', 'dynamodb:DeleteItem'),
      OperationLogTable: ['dynamodb:PutItem'],
    });
  });

  it('grants readRuntime reads only: the record Get, the starting listing (index Query, BatchGetItem) and the Queries of mappings and operation log', () => {
    expect(dataGrants(roleOf(READ))).toEqual({
      RuntimeRecordsTable: sorted('dynamodb:GetItem', 'dynamodb:BatchGetItem'),
      'RuntimeRecordsTable/index/starting_by_created_at': ['dynamodb:Query'],
      PlayerMappingsTable: ['dynamodb:Query'],
      OperationLogTable: ['dynamodb:Query'],
    });
    for (const grant of grantsOf(roleOf(READ))) for (const action of grant.actions) expect(WRITES.has(action), action).toBe(false);
  });

  it('grants engineVersions Get, conditional Put and Scan on the engine-versions table, nothing else', () => {
    expect(dataGrants(roleOf(VERSIONS))).toEqual({
      EngineVersionsTable: sorted('dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Scan'),
    });
  });

  it('keeps engine versions read-only for every role but engineVersions', () => {
    const read = new Set(['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:DescribeTable']);
    const versionsRole = fn(VERSIONS).Properties.Role['Fn::GetAtt'][0];
    const roles = Object.entries(resources)
      .filter(([id, r]: [string, Json]) => r.Type === 'AWS::IAM::Role' && id !== versionsRole)
      .map(([, r]) => r);
    expect(roles.length).toBe(FUNCTIONS.length - 1);
    for (const role of roles) {
      for (const grant of grantsOf(role)) {
        if (!grant.resources.some((r) => r.startsWith('EngineVersionsTable'))) continue;
        for (const action of grant.actions) expect(read.has(action), `${action} on engine versions`).toBe(true);
      }
    }
  });

  it('runs the reconciler one at a time, every minute', () => {
    expect(fn(RECONCILE).Properties.ReservedConcurrentExecutions).toBe(1);
    const rules = Object.values(resources).filter(
      (r: Json) => r.Type === 'AWS::Events::Rule' && r.Properties.Targets?.some((t: Json) => t.Arn?.['Fn::GetAtt']?.[0] === RECONCILE),
    );
    expect(rules.map((r: Json) => r.Properties.ScheduleExpression)).toEqual(['rate(1 minute)']);
    expect(rules[0].Properties.State).toBe('ENABLED');
  });

  it('creates the six tables on demand, with point-in-time recovery and deletion protection outside dev', () => {
    const tables = Object.entries(resources).filter(([, r]: [string, Json]) => r.Type === 'AWS::DynamoDB::Table');
    expect(tables.map(([id]) => id).sort()).toEqual([
      'EngineVersionsTable',
      'IdempotencyTable',
      'OperationLogTable',
      'OutboxTable',
      'PlayerMappingsTable',
      'RuntimeRecordsTable',
    ]);
    expect(resources.OutboxTable.Properties).toMatchObject({
      TableName: `game-master-${STAGE}-outbox`,
      KeySchema: [{ AttributeName: 'event_id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'event_id', AttributeType: 'S' }],
      TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
      StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
    });
    for (const [id, table] of tables as [string, Json][]) {
      expect(table.Properties.BillingMode, id).toBe('PAY_PER_REQUEST');
      expect(table.Properties.PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled, id).toBe(true);
      expect(table.Properties.DeletionProtectionEnabled, id).toBe(true);
      expect(table.Properties.TableName, id).toMatch(new RegExp(`^game-master-${STAGE}-`));
    }
    expect(resources.EventBus.Type).toBe('AWS::Events::EventBus');
  });

  it('passes configuration as plain strings: table and bus names, engine settings, Powertools', () => {
    const tableIds: Record<string, string> = {
      RUNTIME_RECORDS_TABLE: 'RuntimeRecordsTable',
      ENGINE_VERSIONS_TABLE: 'EngineVersionsTable',
      PLAYER_MAPPINGS_TABLE: 'PlayerMappingsTable',
      OPERATION_LOG_TABLE: 'OperationLogTable',
      IDEMPOTENCY_TABLE: 'IdempotencyTable',
      OUTBOX_TABLE: 'OutboxTable',
    };
    for (const id of FUNCTIONS) {
      const vars = fn(id).Properties.Environment.Variables as Record<string, unknown>;
      for (const value of Object.values(vars)) expect(typeof value, `${id}: every variable is a plain string`).toBe('string');
      for (const [name, tableId] of Object.entries(tableIds)) {
        expect(vars[name], `${id} ${name}`).toBe(resources[tableId].Properties.TableName);
      }
      expect(vars.EVENT_BUS_NAME).toBe(resources.EventBus.Properties.Name);
      expect(vars.EVENT_BUS_NAME).toBe(`game-master-${STAGE}-events`);
      expect(vars).toMatchObject({
        ENGINE_ALLOWED_HOSTS: 'galaxy-game-*',
        ENGINE_TIMEOUT_MS: '10000',
        ENGINE_ALLOW_LOOPBACK: 'false',
        IDEMPOTENCY_TTL_S: '86400',
        STARTING_TIMEOUT_S: '120',
        OUTBOX_TTL_S: '604800',
        POWERTOOLS_SERVICE_NAME: 'game-master',
        POWERTOOLS_METRICS_NAMESPACE: 'Galaxy/GameMaster',
      });
      expect(vars.POWERTOOLS_LOG_LEVEL).toMatch(/^(DEBUG|INFO|WARN|ERROR)$/);
    }
  });

  it('answers within the HTTP API limit, and reclaims only registrations older than that', () => {
    const register = fn(REGISTER).Properties;
    const vars = register.Environment.Variables;
    expect(register.Timeout).toBeLessThanOrEqual(29);
    expect(Number(vars.STARTING_TIMEOUT_S)).toBeGreaterThan(register.Timeout);
    expect(Number(fn(RECONCILE).Properties.Environment.Variables.STARTING_TIMEOUT_S)).toBeGreaterThan(register.Timeout);
    // The engine call and the 2 s rollback reserve fit inside the function's time.
    expect(Number(vars.ENGINE_TIMEOUT_MS) + 2000).toBeLessThanOrEqual(register.Timeout * 1000);
    // The reconciler ends before its next tick.
    expect(fn(RECONCILE).Properties.Timeout).toBeLessThan(60);
  });

  it('alarms on crashes of both functions, on defects and on abandoned registrations', () => {
    const alarms = Object.values(resources).filter((r: Json) => r.Type === 'AWS::CloudWatch::Alarm');
    const onFunction = (name: string, metric: string) =>
      alarms.some(
        (a: Json) =>
          a.Properties.Namespace === 'AWS/Lambda' &&
          a.Properties.MetricName === metric &&
          a.Properties.Dimensions?.some((d: Json) => d.Name === 'FunctionName' && d.Value === fn(name).Properties.FunctionName),
      );
    expect(onFunction(REGISTER, 'Errors')).toBe(true);
    expect(onFunction(RECONCILE, 'Errors')).toBe(true);
    const outcomeAlarms = alarms
      .filter((a: Json) => a.Properties.MetricName === 'register_runtime_outcomes')
      .map((a: Json) => ({ namespace: a.Properties.Namespace, ...Object.fromEntries(a.Properties.Dimensions.map((d: Json) => [d.Name, d.Value])) }));
    expect(outcomeAlarms).toEqual(
      expect.arrayContaining(
        ['registration_abandoned', 'internal_error'].map((error_code) => ({
          namespace: 'Galaxy/GameMaster',
          service: 'game-master',
          outcome: 'failure',
          error_code,
        })),
      ),
    );
    expect(outcomeAlarms).toHaveLength(2);
  });

  it('names no account id', () => {
    expect(JSON.stringify(template)).not.toMatch(/arn:aws[\w-]*:[\w-]+:[\w-]*:\d{12}:/);
  });
});

describe('the bundles', () => {
  it.each([
    ['registerRuntime', 'functions/register-runtime/handler'],
    ['reconcileStarting', 'functions/reconcile-starting/handler'],
    ['readRuntime', 'functions/read-runtime/handler'],
    ['engineVersions', 'functions/engine-versions/handler'],
    ['publishSnapshots', 'functions/publish-snapshots/handler'],
  ])('%s.zip holds its ES-module handler with the AWS SDK bundled in', (name, handlerPath) => {
    const entries = readZip(join(pkg, `${name}.zip`));
    expect([...entries.keys()]).toContain(`${handlerPath}.js`);
    expect([...entries.keys()]).toContain(`${handlerPath}.js.map`);
    expect(JSON.parse(entries.get(`${dirname(handlerPath)}/package.json`)?.toString() ?? '{}')).toEqual({ type: 'module' });
    expect([...entries.keys()].filter((k) => k.startsWith('node_modules/'))).toEqual([]);
    // Only this function's folder: its bundle, the chunks of its code
    // splitting, their source maps, the ES-module marker.
    expect([...entries.keys()].filter((k) => !k.startsWith(`${dirname(handlerPath)}/`))).toEqual([]);
    // Only Node built-ins are left to import at run time: the SDK, Powertools
    // and the rest are in the bundle (or its chunks, all in the zip), not
    // taken from the Lambda runtime.
    const specifiers = new Set<string>();
    for (const [path, content] of entries) {
      if (!path.endsWith('.js')) continue;
      const code = content.toString('utf8');
      for (const re of [/\bfrom\s*["']([^"']+)["']/g, /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g, /\bimport\s*["']([^"']+)["']/g, /\brequire\(\s*["']([^"']+)["']\s*\)/g]) {
        for (const match of code.matchAll(re)) {
          const specifier = match[1] as string;
          if (specifier.startsWith('./')) expect([...entries.keys()], `${path} imports ${specifier}`).toContain(`${dirname(path)}/${specifier.slice(2)}`);
          else specifiers.add(specifier);
        }
      }
    }
    const builtins = new Set(builtinModules);
    const moduleName = /^(@[\w.-]+\/)?[\w.-]+(\/[\w.-]+)*$/;
    const external = [...specifiers].filter((s) => moduleName.test(s) && !s.startsWith('node:') && !builtins.has(s));
    // The SDK looks these up in a try/catch, for SigV4a (multi-region
    // endpoints) only; this service never signs that way.
    const optionalSdkSigners = ['@aws-sdk/signature-v4-crt', '@aws-sdk/signature-v4a'];
    expect(external.filter((s) => !optionalSdkSigners.includes(s))).toEqual([]);
  });

  it('registerRuntime loads Powertools idempotency only for keyed calls: a chunk the handler imports dynamically', () => {
    const entries = readZip(join(pkg, 'registerRuntime.zip'));
    const chunk = [...entries.keys()].find((k) => /^functions\/register-runtime\/keyed-retries-[\w-]+\.js$/.test(k));
    expect(chunk).toBeDefined();
    const handler = entries.get('functions/register-runtime/handler.js')?.toString('utf8') ?? '';
    const name = (chunk as string).split('/').pop() as string;
    expect(handler).toContain(`import("./${name}")`);
    expect(handler).not.toMatch(new RegExp(`from\\s*["']\\./${name.replace('.', '\\.')}["']`));
    // Powertools' JMESPath (the key and body selectors) is in the chunk, not in the handler.
    expect(entries.get(chunk as string)?.toString('utf8')).toContain('jmespath');
    expect(handler).not.toContain('jmespath');
  });

  it('only publishSnapshots bundles the EventBridge client: registerRuntime never calls EventBridge', () => {
    // Every JavaScript file of the zip: the bundle and its chunks.
    const code = (name: string, handlerPath: string) =>
      [...readZip(join(pkg, `${name}.zip`))]
        .filter(([path]) => path.startsWith(`${dirname(handlerPath)}/`) && path.endsWith('.js'))
        .map(([, content]) => content.toString('utf8'))
        .join('\n');
    // The client's wire protocol target prefix, which every PutEvents request carries.
    expect(code('publishSnapshots', 'functions/publish-snapshots/handler')).toContain('AWSEvents');
    for (const [name, handlerPath] of [
      ['registerRuntime', 'functions/register-runtime/handler'],
      ['reconcileStarting', 'functions/reconcile-starting/handler'],
      ['readRuntime', 'functions/read-runtime/handler'],
      ['engineVersions', 'functions/engine-versions/handler'],
    ] as const) {
      expect(code(name, handlerPath), name).not.toContain('AWSEvents');
    }
  });

  it.each([
    ['registerRuntime', REGISTER, 'functions/register-runtime/handler'],
    ['reconcileStarting', RECONCILE, 'functions/reconcile-starting/handler'],
    ['readRuntime', READ, 'functions/read-runtime/handler'],
    ['engineVersions', VERSIONS, 'functions/engine-versions/handler'],
    ['publishSnapshots', PUBLISH, 'functions/publish-snapshots/handler'],
  ])('%s imports under Node 24 with the deployed environment, as Lambda loads it, without loading Node\'s fetch', (name, logicalId, handlerPath) => {
    const dir = join(work, `unzipped-${name}`);
    unpackFunction(join(pkg, `${name}.zip`), dir);
    const vars = fn(logicalId).Properties.Environment.Variables as Record<string, string>;
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      ...vars,
      // Configuration is read at import; no request is made, so these go nowhere.
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'import-check',
      AWS_SECRET_ACCESS_KEY: 'import-check',
      AWS_LAMBDA_FUNCTION_NAME: fn(logicalId).Properties.FunctionName,
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    };
    const handlerUrl = pathToFileURL(join(dir, `${handlerPath}.js`)).href;
    // serverless-offline ships a copy of Lambda's own handler loader (the
    // runtime interface client's UserFunction): use it when it is there.
    const ric = join(ROOT, 'node_modules/serverless-offline/src/lambda/handler-runner/in-process-runner/aws-lambda-ric/UserFunction.js');
    const script = [
      `const m = await import(${JSON.stringify(handlerUrl)});`,
      // Node's own fetch (undici and web streams: tens of ms of CPU) is
      // loaded by the first Request/Response/Headers or ESM import of
      // node:http; nothing at cold start needs it.
      'const fetchLoaded = process.moduleLoadList.some((m) => m.includes("internal/deps/undici"));',
      'let viaLambdaLoader = "n/a";',
      existsSync(ric)
        ? `const { load } = await import(${JSON.stringify(pathToFileURL(ric).href)}); viaLambdaLoader = typeof (await load(${JSON.stringify(dir)}, ${JSON.stringify(`${handlerPath}.handler`)}));`
        : '',
      'process.stdout.write(JSON.stringify({ handler: typeof m.handler, viaLambdaLoader, fetchLoaded }));',
    ].join('\n');
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
    expect(result.stderr).not.toMatch(/Error/);
    expect(result.status, result.stderr).toBe(0);
    const out = JSON.parse(result.stdout) as { handler: string; viaLambdaLoader: string; fetchLoaded: boolean };
    expect(out.handler).toBe('function');
    expect(out.fetchLoaded).toBe(false);
    if (existsSync(ric)) expect(out.viaLambdaLoader).toBe('function');
  });
});
