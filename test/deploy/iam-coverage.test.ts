/**
 * IAM coverage: the DynamoDB actions each function's role grants
 * (serverless.yml, as `serverless package` renders it) against the requests
 * its code really makes. DynamoDB Local does not enforce IAM, so a request
 * a role does not allow passes every other test and fails only in AWS
 * (registerRuntime once shipped without dynamodb:GetItem on the runtime
 * records, which its lost-commit read-back needs).
 *
 * Each function's code paths that touch DynamoDB run here, in process (the
 * handler modules imported afresh; the reconciler wired by buildReconciler
 * as its handler wires it, with a clock past STARTING_TIMEOUT_S), on
 * DynamoDB Local behind the recording proxy (test/support/dynamo-proxy.ts):
 * every request is logged, faulted ones included (a request the store
 * never answered was still made, and IAM is checked before anything else).
 * Each request is mapped to the IAM actions it needs, table by table:
 * - a plain operation is `dynamodb:<Op>` on its table, and a Query or Scan
 *   of an index is that action on `<table>/index/<name>` (a grant on the
 *   table does not cover its indexes);
 * - TransactWriteItems has no action of its own: each member is authorised
 *   as the PutItem / UpdateItem / DeleteItem / ConditionCheckItem it is, on
 *   its own table (TransactGetItems: GetItem per member);
 * - BatchGetItem / BatchWriteItem: that action on every table in RequestItems.
 * Then both directions are checked against the packaged template: every
 * observed (table, action) is granted to that function's role, and every
 * DynamoDB action granted on a table was used by some observed request
 * (exact least privilege) unless ALLOWED_UNUSED says why not.
 *
 * Not covered here: publishSnapshots' stream read actions (DescribeStream,
 * GetRecords, GetShardIterator on the outbox's stream ARN).
 * serverless-iam-roles-per-function adds them from the stream event, and
 * the event source mapping (Lambda's poller, with the function's role)
 * makes those calls, never the function's code; test/deploy/package.test.ts
 * asserts them.
 */
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../lib/config.ts';
import { buildReconciler } from '../../lib/wiring.ts';
import { type PackagedService, packageService } from '../support/bundled-lambda.ts';
import { type DynamoProxy, type ProxiedRequest, type ProxyLogEntry, requestIs, startDynamoProxy } from '../support/dynamo-proxy.ts';
import { apiEvent, lambdaContext, RecordingLog, registerBody } from '../support/harness.ts';
import { OPERATIONS_ROUTE, RUNTIME_ROUTE, routeEvent, STARTING_LIST_ROUTE, VERSION_ROUTE, VERSIONS_ROUTE } from '../support/http-events.ts';
import { coldStart, type Handler, parse, SEEDED_IMAGE, SEEDED_VERSION, type Stack, startRelay, startStack } from '../support/stack.ts';
import type { StreamRelay } from '../support/stream-relay.ts';

type Json = any;

const STAGE = 'ci';
const PACKAGE_TIMEOUT_MS = 200_000;
const STARTING_TIMEOUT_S = 120;

const FUNCTIONS = {
  registerRuntime: 'RegisterRuntimeLambdaFunction',
  reconcileStarting: 'ReconcileStartingLambdaFunction',
  publishSnapshots: 'PublishSnapshotsLambdaFunction',
  readRuntime: 'ReadRuntimeLambdaFunction',
  engineVersions: 'EngineVersionsLambdaFunction',
} as const;
type FunctionName = keyof typeof FUNCTIONS;

/**
 * Granted DynamoDB actions no exercised path uses, each with the reason it
 * stays: "<function> <resource> <action>" -> why. Empty: every grant is used.
 */
const ALLOWED_UNUSED: Record<string, string> = {};

/** A `starting` runtime record as the register route's insert writes it (without op_id and the index marker). */
function stuckRecord(gameId: string) {
  const at = new Date(Date.now() - 600_000).toISOString();
  return {
    game_id: gameId,
    status: 'starting',
    engine_endpoint: 'http://127.0.0.1:1',
    current_image_ref: SEEDED_IMAGE,
    current_engine_version: SEEDED_VERSION,
    turn_schedule: '0 */6 * * *',
    current_turn: 0,
    next_generation_at: null,
    skip_next_tick: false,
    engine_health: '',
    created_at: at,
    updated_at: at,
  };
}

// ------------------------------------------------------- request -> IAM

/** "<resource> <action>", the resource a template logical id (with `/index/<name>` for an index). */
type Permission = string;

const TRANSACT_WRITE_ACTIONS: Record<string, string> = {
  Put: 'dynamodb:PutItem',
  Update: 'dynamodb:UpdateItem',
  Delete: 'dynamodb:DeleteItem',
  ConditionCheck: 'dynamodb:ConditionCheckItem',
};

/** The IAM permissions one DynamoDB request needs; `resourceOf` maps a table name to its template logical id. */
function permissionsFor(req: ProxiedRequest, resourceOf: (table: string) => string): Permission[] {
  const body = JSON.parse(req.body) as Json;
  const on = (table: string, action: string, index?: string) => `${resourceOf(table)}${index ? `/index/${index}` : ''} ${action}`;
  switch (req.op) {
    case 'GetItem':
    case 'PutItem':
    case 'UpdateItem':
    case 'DeleteItem':
      return [on(body.TableName, `dynamodb:${req.op}`)];
    case 'Query':
    case 'Scan':
      return [on(body.TableName, `dynamodb:${req.op}`, body.IndexName)];
    case 'BatchGetItem':
    case 'BatchWriteItem':
      return Object.keys(body.RequestItems).map((table) => on(table, `dynamodb:${req.op}`));
    case 'TransactWriteItems':
      return (body.TransactItems as Json[]).map((item) => {
        const [kind, member] = Object.entries(item)[0] as [string, Json];
        const action = TRANSACT_WRITE_ACTIONS[kind];
        if (action === undefined) throw new Error(`TransactWriteItems member ${kind}: no IAM mapping`);
        return on(member.TableName, action);
      });
    case 'TransactGetItems':
      return (body.TransactItems as Json[]).map((item) => on(item.Get.TableName, 'dynamodb:GetItem'));
    default:
      throw new Error(`${req.op}: no IAM mapping in this test yet; add one (and the grant in serverless.yml)`);
  }
}

// ------------------------------------------------------ template grants

/** "RuntimeRecordsTable", "RuntimeRecordsTable/index/x", "OutboxTable.StreamArn", or the JSON of anything else. */
function resourceName(resource: Json): string {
  if (typeof resource === 'string') return resource;
  if (resource?.['Fn::GetAtt']) {
    const [logicalId, attribute] = resource['Fn::GetAtt'] as [string, string];
    return attribute === 'Arn' ? logicalId : `${logicalId}.${attribute}`;
  }
  const sub = resource?.['Fn::Sub'];
  if (typeof sub === 'string') {
    const match = /^\$\{(\w+)\.Arn\}(\/.*)?$/.exec(sub);
    if (match) return `${match[1]}${match[2] ?? ''}`;
  }
  return JSON.stringify(resource);
}

/** The DynamoDB grants of a function's role: resource -> actions (as written, wildcards kept). */
function dynamoGrantsOf(resources: Record<string, Json>, functionId: string): Map<string, Set<string>> {
  const roleId = resources[functionId]?.Properties?.Role?.['Fn::GetAtt']?.[0] as string | undefined;
  expect(roleId, `${functionId} has a role of its own in the template`).toBeTruthy();
  const grants = new Map<string, Set<string>>();
  for (const policy of resources[roleId as string].Properties.Policies ?? []) {
    for (const statement of policy.PolicyDocument.Statement) {
      expect(statement.Effect, 'only Allow statements (package.test.ts)').toBe('Allow');
      const actions = ([] as string[]).concat(statement.Action).filter((a) => a.startsWith('dynamodb:'));
      for (const resource of ([] as Json[]).concat(statement.Resource).map(resourceName)) {
        for (const action of actions) {
          if (!grants.has(resource)) grants.set(resource, new Set());
          grants.get(resource)?.add(action);
        }
      }
    }
  }
  return grants;
}

const matchesAction = (pattern: string, action: string) =>
  new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`).test(action);

function isGranted(grants: Map<string, Set<string>>, permission: Permission): boolean {
  const [resource, action] = permission.split(' ') as [string, string];
  return [...(grants.get(resource) ?? [])].some((pattern) => matchesAction(pattern, action));
}

// ----------------------------------------------------------------- setup

let service: PackagedService | undefined;
let resources: Record<string, Json>;
let proxy: DynamoProxy;
let stack: Stack;
let relay: StreamRelay | undefined;
let counter = 0;
const newGame = () => `g-iam-${++counter}`;

/** Every request each function's code made through the proxy. */
const observed: Record<FunctionName, ProxyLogEntry[]> = {
  registerRuntime: [],
  reconcileStarting: [],
  publishSnapshots: [],
  readRuntime: [],
  engineVersions: [],
};

/** Requests already filed under a function (by a nested `recording`). */
const filed = new Set<ProxyLogEntry>();

/**
 * Runs `work` and files every proxy request made meanwhile under `fn` (the
 * tables are seeded and read directly, never through the proxy). A nested
 * `recording` files its own requests first: the reconciler run while a
 * registration is held at its engine call is the reconciler's.
 */
async function recording<T>(fn: FunctionName, work: () => Promise<T>): Promise<T> {
  const from = proxy.requests.length;
  try {
    return await work();
  } finally {
    const mine = proxy.requests.slice(from).filter((r) => !filed.has(r));
    for (const r of mine) filed.add(r);
    observed[fn].push(...mine);
  }
}

beforeAll(async () => {
  // Packaging first, alone: it is CPU-heavy, and the scenarios below run
  // on SDK request timeouts of 2 s.
  service = await packageService(STAGE, PACKAGE_TIMEOUT_MS);
  resources = service.template.Resources;
  proxy = await startDynamoProxy(inject('dynamoEndpoint'));
  stack = await startStack({ AWS_ENDPOINT_URL_DYNAMODB: proxy.url, STARTING_TIMEOUT_S: String(STARTING_TIMEOUT_S) });
}, PACKAGE_TIMEOUT_MS + 60_000);

afterAll(async () => {
  relay?.close();
  await proxy?.close();
  await stack?.close();
  service?.remove();
});

const REGISTER = '../../functions/register-runtime/handler.ts';

async function register(
  handler: Handler,
  gameId: string,
  options: { members?: number; version?: string; key?: string; endpoint?: string } = {},
): Promise<{ status: number; body: Json; headers: Record<string, unknown> }> {
  const body = registerBody(gameId, options.endpoint ?? stack.engine.url, options);
  const headers: Record<string, string> = options.key ? { 'Idempotency-Key': options.key } : {};
  return parse(await handler(apiEvent(body, { headers }), lambdaContext()));
}

/** The registerRuntime requests store-faults.test.ts faults, by step. */
const at = {
  commit: () => requestIs({ op: 'TransactWriteItems', withUpdate: true, table: stack.tables.names.operationLog }),
  // The fence that settles an attempted commit (UpdateItem on the record).
  fence: () => requestIs({ op: 'UpdateItem', table: stack.tables.names.runtimeRecords }),
  mappingDeletes: () => (req: ProxiedRequest) =>
    req.op === 'TransactWriteItems' && req.body.includes('"Delete"') && req.tables.includes(stack.tables.names.playerMappings),
};

/** A reconciler wired as the function's handler wires it (client on the proxy), its clock past STARTING_TIMEOUT_S. */
const lateReconciler = () =>
  buildReconciler(loadConfig(), { log: new RecordingLog(), clock: () => new Date(Date.now() + (STARTING_TIMEOUT_S + 5) * 1000) });

/**
 * A registration whose commit failed after its mapping chunks landed, and
 * whose fence went unanswered too (503 "commit outcome unknown"): an
 * unmarked `starting` record and 153 mappings, left for the reconciler.
 */
async function abandonedWithMappings(handler: Handler): Promise<string> {
  const gameId = newGame();
  proxy.fault({ match: at.commit(), mode: 'internal-error' });
  proxy.fault({ match: at.fence(), mode: 'internal-error' });
  try {
    const res = await recording('registerRuntime', () => register(handler, gameId, { members: 250 }));
    expect(res.status).toBe(503);
  } finally {
    proxy.clearFaults();
  }
  const left = await stack.tables.rowsOf(gameId);
  expect(left.records).toEqual([expect.objectContaining({ status: 'starting' })]);
  expect(left.records[0]).not.toHaveProperty('reclaim_started_at');
  expect(left.mappings).toHaveLength(153);
  return gameId;
}

// ------------------------------------------------------------- scenarios

describe('IAM coverage: each function runs its DynamoDB paths through a recording proxy', () => {
  describe('registerRuntime', () => {
    let handler: Handler;

    beforeAll(async () => {
      handler = await coldStart(REGISTER);
    });

    it('succeeds cold (record and version read) and warm, 2 and 250 members (mapping chunks)', async () => {
      const cold = await recording('registerRuntime', () => register(handler, newGame()));
      const warm = await recording('registerRuntime', () => register(handler, newGame()));
      const big = newGame();
      const chunks = await recording('registerRuntime', () => register(handler, big, { members: 250 }));

      expect([cold.status, warm.status, chunks.status]).toEqual([201, 201, 201]);
      expect((await stack.tables.rowsOf(big)).mappings).toHaveLength(250);
      expect(observed.registerRuntime.map((r) => r.op)).toContain('BatchGetItem');
    });

    it('with an Idempotency-Key: first call, replay, other body (422), while in progress (409), a conflict (key released)', async () => {
      const gameId = newGame();
      const key = `k-${gameId}`;
      const first = await recording('registerRuntime', () => register(handler, gameId, { key }));
      const replay = await recording('registerRuntime', () => register(handler, gameId, { key }));
      const reused = await recording('registerRuntime', () => register(handler, gameId, { key, members: 3 }));

      // In progress: the engine holds the first call (a latch) while it holds its key.
      const busy = newGame();
      const latch = stack.engine.holdNext();
      const { running, second } = await recording('registerRuntime', async () => {
        const running = register(handler, busy, { key: `k-${busy}` });
        await latch.arrived;
        const second = await register(handler, busy, { key: `k-${busy}` });
        latch.release();
        return { running: await running, second };
      });

      // A conflict is not remembered: Powertools deletes the key again.
      const conflictKey = `k2-${gameId}`;
      const conflict = await recording('registerRuntime', () => register(handler, gameId, { key: conflictKey }));

      expect(first.status).toBe(201);
      expect([replay.status, replay.headers['idempotent-replayed']]).toEqual([201, 'true']);
      expect(reused.status).toBe(422);
      expect([second.status, second.body.error.code]).toEqual([409, 'request_in_progress']);
      expect(running.status).toBe(201);
      expect([conflict.status, conflict.body.error.code]).toEqual([409, 'conflict']);
      const keys = await stack.tables.scan('idempotency');
      expect(keys.filter((k) => String(k.id).includes(conflictKey))).toEqual([]);
    });

    it('conflict (cold and warm), unknown version, engine failure rolled back', async () => {
      const existing = newGame();
      expect((await recording('registerRuntime', () => register(handler, existing))).status).toBe(201);
      const coldHandler = await coldStart<Handler>(REGISTER);
      const coldConflict = await recording('registerRuntime', () => register(coldHandler, existing));
      const warmConflict = await recording('registerRuntime', () => register(handler, existing));
      const unknown = await recording('registerRuntime', () => register(handler, newGame(), { version: '9.9.404' }));
      const failed = newGame();
      const engineDown = await recording('registerRuntime', () => register(handler, failed, { endpoint: `${stack.engine.url}/status-503` }));

      expect([coldConflict.status, warmConflict.status, unknown.status, engineDown.status]).toEqual([409, 409, 404, 502]);
      const rows = await stack.tables.rowsOf(failed);
      expect(rows.records).toEqual([]);
      expect(rows.log.map((e) => e.error_code)).toEqual(['engine_unreachable']);
    });

    it('a commit whose answer was lost and that landed: the fence (UpdateItem on the record) is refused by the running record', async () => {
      const gameId = newGame();
      const from = proxy.requests.length;
      proxy.fault({ match: at.commit(), mode: 'commit-then-drop' });
      try {
        const res = await recording('registerRuntime', () => register(handler, gameId));
        expect(res.status).toBe(201);
      } finally {
        proxy.clearFaults();
      }
      expect(proxy.requests.slice(from).filter(at.fence()).map((r) => r.upstreamStatus)).toEqual([400]);
      expect((await stack.tables.rowsOf(gameId)).records).toEqual([expect.objectContaining({ status: 'running' })]);
    });

    it('a commit that fails after its mapping chunks landed, 250 members: the fence, mapping delete transactions, record delete', async () => {
      const gameId = newGame();
      const from = proxy.requests.length;
      proxy.fault({ match: at.commit(), mode: 'internal-error' });
      let res: Awaited<ReturnType<typeof register>>;
      try {
        res = await recording('registerRuntime', () => register(handler, gameId, { members: 250 }));
      } finally {
        proxy.clearFaults();
      }

      expect([res.status, res.body.error.code]).toEqual([503, 'service_unavailable']);
      const made = proxy.requests.slice(from);
      expect(made.filter(at.fence()).map((r) => r.upstreamStatus)).toEqual([200]);
      expect(made.filter(at.mappingDeletes())).toHaveLength(2);
      expect(made.filter(requestIs({ op: 'DeleteItem', table: stack.tables.names.runtimeRecords })).map((r) => r.upstreamStatus)).toEqual([200]);
      expect(await stack.tables.rowsOf(gameId)).toEqual({ records: [], mappings: [], log: [expect.objectContaining({ outcome: 'failure' })] });
      expect(await stack.tables.outboxOf(gameId)).toEqual([]);
    });

    it('a record marked by a reclaim while the engine runs, 250 members: the first mapping chunk is refused (its record check), the fence, the record delete', async () => {
      const gameId = newGame();
      const latch = stack.engine.holdNext();
      const from = proxy.requests.length;
      const res = await recording('registerRuntime', async () => {
        const running = register(handler, gameId, { members: 250 });
        await latch.arrived;
        // What the reconciler's mark does: every commit transaction is refused.
        await stack.tables.doc.send(
          new UpdateCommand({
            TableName: stack.tables.names.runtimeRecords,
            Key: { game_id: gameId },
            UpdateExpression: 'SET reclaim_started_at = :now',
            ExpressionAttributeValues: { ':now': new Date().toISOString() },
          }),
        );
        latch.release();
        return running;
      });

      expect([res.status, res.body.error.code]).toEqual([409, 'conflict']);
      const made = proxy.requests.slice(from);
      expect(made.filter(requestIs({ op: 'TransactWriteItems', table: stack.tables.names.playerMappings })).map((r) => r.upstreamStatus)).toEqual([400]);
      expect(made.filter(at.fence()).map((r) => r.upstreamStatus)).toEqual([200]);
      expect(made.filter(requestIs({ op: 'DeleteItem', table: stack.tables.names.runtimeRecords })).map((r) => r.upstreamStatus)).toEqual([200]);
      expect(await stack.tables.rowsOf(gameId)).toEqual({ records: [], mappings: [], log: [expect.objectContaining({ outcome: 'failure' })] });
    });

    it('a commit refused because the reconciler reclaimed the record meanwhile: the fence is refused, the outbox never touched', async () => {
      const gameId = newGame();
      const latch = stack.engine.holdNext();
      const from = proxy.requests.length;
      const res = await recording('registerRuntime', async () => {
        const running = register(handler, gameId);
        await latch.arrived;
        const reclaimed = await recording('reconcileStarting', () => lateReconciler().run());
        expect(reclaimed.reclaimed).toBeGreaterThanOrEqual(1);
        latch.release();
        return running;
      });

      expect([res.status, res.body.error.code]).toEqual([409, 'conflict']);
      const made = proxy.requests.slice(from).filter((r) => observed.registerRuntime.includes(r));
      expect(made.filter(at.fence()).map((r) => r.upstreamStatus)).toEqual([400]); // refused: the record is gone
      expect(made.filter(requestIs({ op: 'DeleteItem', table: stack.tables.names.outbox }))).toEqual([]);
      const rows = await stack.tables.rowsOf(gameId);
      expect([rows.records, rows.mappings]).toEqual([[], []]);
      expect(await stack.tables.outboxOf(gameId)).toEqual([]);
    });
  });

  describe('reconcileStarting', () => {
    it('reclaims an abandoned registration with mappings: index Query, mark, mapping deletes, record delete with its entry', async () => {
      const handler = await coldStart<Handler>(REGISTER);
      const gameId = await abandonedWithMappings(handler);
      const from = proxy.requests.length;

      const result = await recording('reconcileStarting', () => lateReconciler().run());

      expect(result).toEqual({ examined: 1, reclaimed: 1 });
      const rows = await stack.tables.rowsOf(gameId);
      expect([rows.records, rows.mappings]).toEqual([[], []]);
      // The registration's outcome stayed unknown: the reconciler's entry is the only one.
      expect(rows.log.map((e) => e.error_code)).toEqual(['registration_abandoned']);
      const made = proxy.requests.slice(from);
      expect(made.filter((r) => r.op === 'Query' && r.body.includes('"IndexName"'))).toHaveLength(1);
      expect(made.filter(requestIs({ op: 'UpdateItem', table: stack.tables.names.runtimeRecords }))).toHaveLength(1);
      expect(made.filter(at.mappingDeletes())).toHaveLength(2);
      expect(made.filter((r) => r.tables.includes(stack.tables.names.outbox))).toEqual([]);
    });
  });

  describe('publishSnapshots', () => {
    it('delivers from the outbox (one consistent BatchGetItem per batch)', async () => {
      relay = await startRelay(stack);
      const handler = await coldStart<Handler>(REGISTER);
      const gameId = newGame();
      expect((await register(handler, gameId)).status).toBe(201);
      const sent = stack.events.entries.length;

      const invocations = await recording('publishSnapshots', () => (relay as StreamRelay).pump());

      expect(invocations.length).toBeGreaterThan(0);
      expect(invocations.flatMap((i) => i.failed)).toEqual([]);
      expect(stack.events.entries.length).toBeGreaterThan(sent);
      expect(observed.publishSnapshots.map((r) => r.op)).toContain('BatchGetItem');
    });
  });

  describe('readRuntime', () => {
    it('reads a record with its players, its operations, and the registrations stuck in starting', async () => {
      const register = await coldStart<Handler>(REGISTER);
      const gameId = newGame();
      expect((await register(apiEvent(registerBody(gameId, stack.engine.url)), lambdaContext())).statusCode).toBe(201);
      const read = await coldStart<Handler>('../../functions/read-runtime/handler.ts');

      const runtime = await recording('readRuntime', async () => parse(await read(routeEvent('GET', RUNTIME_ROUTE, { params: { game_id: gameId } }), lambdaContext())));
      const operations = await recording('readRuntime', async () =>
        parse(await read(routeEvent('GET', OPERATIONS_ROUTE, { params: { game_id: gameId } }), lambdaContext())),
      );

      // A registration stuck in `starting` (the engine never answered): listed through the index, then read.
      const stuck = newGame();
      await stack.tables.doc.send(
        new PutCommand({
          TableName: stack.tables.names.runtimeRecords,
          Item: { ...stuckRecord(stuck), op_id: `op-${stuck}`, starting_marker: 'starting' },
        }),
      );
      const starting = await recording('readRuntime', async () =>
        parse(await read(routeEvent('GET', STARTING_LIST_ROUTE, { query: { status: 'starting' } }), lambdaContext())),
      );
      expect(starting.status).toBe(200);
      expect(starting.body.runtimes.map((r: Json) => r.game_id)).toContain(stuck);

      expect(runtime.status).toBe(200);
      expect(runtime.body.players).toHaveLength(2);
      expect(operations.status).toBe(200);
      expect(operations.body.operations).toHaveLength(1);
    });
  });

  describe('engineVersions', () => {
    it('puts a version, gets it, lists them', async () => {
      // The seeded version has no created_at, which the listing's contract
      // requires (docs/openapi.yaml): give it one, as a PUT would have.
      await stack.tables.doc.send(
        new PutCommand({ TableName: stack.tables.names.engineVersions, Item: { version: SEEDED_VERSION, image_ref: SEEDED_IMAGE, created_at: new Date().toISOString() } }),
      );
      const versions = await coldStart<Handler>('../../functions/engine-versions/handler.ts');
      const version = '7.7.7';
      const call = (event: Parameters<Handler>[0]) => recording('engineVersions', async () => parse(await versions(event, lambdaContext())));

      const put = await call(routeEvent('PUT', VERSION_ROUTE, { params: { version }, body: JSON.stringify({ image_ref: 'registry.local/galaxy/engine:7.7.7' }) }));
      const again = await call(routeEvent('PUT', VERSION_ROUTE, { params: { version }, body: JSON.stringify({ image_ref: 'registry.local/galaxy/engine:7.7.7' }) }));
      const one = await call(routeEvent('GET', VERSION_ROUTE, { params: { version } }));
      const all = await call(routeEvent('GET', VERSIONS_ROUTE));

      expect([put.status, again.status, one.status, all.status]).toEqual([201, 200, 200, 200]);
      expect(all.body.engine_versions.map((v: Json) => v.version)).toContain(version);
    });
  });
});

// ------------------------------------------------------------ the check

describe('IAM coverage: the packaged roles against the observed requests', () => {
  /** Template logical id of a table, from its name here (`<prefix>-<suffix>`) and in the template (`game-master-ci-<suffix>`). */
  function tableResource(table: string): string {
    const suffix = table.slice(table.indexOf('-') + 1);
    const entry = Object.entries(resources).find(
      ([, r]) => r.Type === 'AWS::DynamoDB::Table' && r.Properties.TableName === `game-master-${STAGE}-${suffix}`,
    );
    if (entry === undefined || !Object.values(stack.tables.names).includes(table)) throw new Error(`${table}: not one of the service's tables`);
    return entry[0];
  }

  const needed = (fn: FunctionName): Map<Permission, string> => {
    const byPermission = new Map<Permission, string>();
    for (const req of observed[fn]) for (const p of permissionsFor(req, tableResource)) if (!byPermission.has(p)) byPermission.set(p, req.op);
    return byPermission;
  };

  it.each(Object.keys(FUNCTIONS) as FunctionName[])('%s: every DynamoDB request it made is granted by its role', (fn) => {
    expect(observed[fn].length, `no request of ${fn} was observed`).toBeGreaterThan(0);
    const grants = dynamoGrantsOf(resources, FUNCTIONS[fn]);
    const missing = [...needed(fn)].filter(([p]) => !isGranted(grants, p)).map(([p, op]) => `${p} (for ${op})`);
    expect(missing, `${fn}: requests its role does not allow`).toEqual([]);
  });

  it.each(Object.keys(FUNCTIONS) as FunctionName[])('%s: every DynamoDB action its role grants on a table was used (exact least privilege)', (fn) => {
    const used = new Set(needed(fn).keys());
    const unused: string[] = [];
    for (const [resource, actions] of dynamoGrantsOf(resources, FUNCTIONS[fn])) {
      // The stream actions are the event source mapping's (see the header).
      if (resource.endsWith('.StreamArn')) continue;
      for (const action of actions) {
        const permission = `${resource} ${action}`;
        const usedHere = [...used].some((p) => p.startsWith(`${resource} `) && matchesAction(action, p.slice(resource.length + 1)));
        if (!usedHere && ALLOWED_UNUSED[`${fn} ${permission}`] === undefined) unused.push(permission);
      }
    }
    expect(unused, `${fn}: granted, but no exercised request used it (remove it, exercise its path, or justify it in ALLOWED_UNUSED)`).toEqual([]);
  });

  it('the request -> IAM mapping: a transaction is its members, a batch every table it names, an index Query the index', () => {
    const resourceOf = (table: string) => `T_${table}`;
    const req = (op: string, body: Json): ProxiedRequest => ({ target: `DynamoDB_20120810.${op}`, op, body: JSON.stringify(body), tables: [] });

    expect(
      permissionsFor(
        req('TransactWriteItems', {
          TransactItems: [
            { Put: { TableName: 'a' } },
            { Update: { TableName: 'b' } },
            { Delete: { TableName: 'c' } },
            { ConditionCheck: { TableName: 'd' } },
          ],
        }),
        resourceOf,
      ),
    ).toEqual(['T_a dynamodb:PutItem', 'T_b dynamodb:UpdateItem', 'T_c dynamodb:DeleteItem', 'T_d dynamodb:ConditionCheckItem']);
    expect(permissionsFor(req('BatchGetItem', { RequestItems: { a: {}, b: {} } }), resourceOf)).toEqual(['T_a dynamodb:BatchGetItem', 'T_b dynamodb:BatchGetItem']);
    expect(permissionsFor(req('BatchWriteItem', { RequestItems: { a: [] } }), resourceOf)).toEqual(['T_a dynamodb:BatchWriteItem']);
    expect(permissionsFor(req('Query', { TableName: 'a', IndexName: 'i' }), resourceOf)).toEqual(['T_a/index/i dynamodb:Query']);
    expect(permissionsFor(req('GetItem', { TableName: 'a' }), resourceOf)).toEqual(['T_a dynamodb:GetItem']);
    expect(() => permissionsFor(req('DescribeTable', { TableName: 'a' }), resourceOf)).toThrow(/no IAM mapping/);
  });
});
