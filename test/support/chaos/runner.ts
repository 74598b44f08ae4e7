/**
 * The chaos run: the real register handler (several execution
 * environments), the real relay fed from DynamoDB Local's stream, and the
 * reconciler, on DynamoDB Local behind fault-injecting proxies, with the
 * loopback engine and EventBridge doubles. Each registration is played by
 * its plan (plan.ts); what every call answered, every metric and log line
 * it printed, and what the tables and EventBridge hold at the end are the
 * run's observations, which the checker (checker.ts) judges.
 *
 * Scoping: registrations run in lanes. A lane is one proxy and two handler
 * environments whose DynamoDB clients talk only to that proxy; a lane plays
 * one registration at a time, and waits until its proxy has been quiet for
 * a while (work an operation goes on doing after a deadline guard answered
 * for it included) before the next, so a plan's faults hit only its own
 * registration. Lanes run side by side, with the relay rounds and the
 * reconciler ticks.
 *
 * Every wait is bounded in time; the run ends by itself.
 */
import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, paginateQuery } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context, DynamoDBStreamEvent, DynamoDBBatchResponse } from 'aws-lambda';
import { createTables, LOCAL_AWS_ENV, scanAll, TABLE_ENV, type TableKey, type TableNames, tableNames } from '../../../infra/local-stack.ts';
import { loadConfig } from '../../../lib/config.ts';
import { buildReconciler } from '../../../lib/wiring.ts';
import { answerProblems, recordViolation } from '../contract.ts';
import { type DynamoProxy, type Fault, type ProxiedRequest, startDynamoProxy } from '../dynamo-proxy.ts';
import { type EngineServer, startEngineServer } from '../engine-server.ts';
import { type ReceivedEntry, startEventBridgeServer } from '../eventbridge-server.ts';
import { apiEvent, lambdaContext } from '../harness.ts';
import { StreamRelay } from '../stream-relay.ts';
import { type CapturedLog, type CapturedMetric, captureOutput, type OutputCapture } from './capture.ts';
import { expectedCostMs, type FaultSpec, planRegistration, prng, type RegistrationPlan, type Step } from './plan.ts';

export type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;
type RelayHandler = (event: DynamoDBStreamEvent, context: Context) => Promise<DynamoDBBatchResponse>;

/** Imports a fresh instance of the module at this absolute path (a new "cold start"); `tag` tells instances apart. */
export type ImportFresh = (path: string, tag: string) => Promise<unknown>;

export interface ChaosOptions {
  seed: number;
  registrations: number;
  /** Play only these registration indexes of the seed's plan. */
  only?: readonly number[];
  dynamoEndpoint: string;
  importFresh: ImportFresh;
  /** Registrations played side by side (default 6). */
  lanes?: number;
  onProgress?: (line: string) => void;
  /** Told of each registration as soon as it has been played (its plan and answers). */
  onRegistration?: (observation: RegistrationObservation) => void;
}

export const SEEDED_VERSION = '1.4.2';
/** The engine timeout of the run's environments: a hung engine costs this much. */
export const CHAOS_ENGINE_TIMEOUT_MS = 2500;

export interface CallObservation {
  /** Also the call's X-Request-Id, hence the source_ref of its audit entries. */
  id: string;
  role: 'first' | 'parallel' | 'retry';
  env: string;
  key?: string;
  deadlineMs: number;
  startedAt: number;
  answeredAt?: number;
  status?: number;
  body?: unknown;
  rawBody?: string;
  headers: Record<string, string>;
  /** The handler rejected (no answer at all). */
  threw?: string;
  /** No answer within the bound. */
  noAnswer?: boolean;
  metrics: CapturedMetric[];
  logs: CapturedLog[];
}

export interface InjectedFault {
  spec: FaultSpec;
  injected: number;
}

export interface GameState {
  record?: Record<string, unknown>;
  mappings: Record<string, unknown>[];
  log: Record<string, unknown>[];
  outbox: Record<string, unknown>[];
  /** Every PutEvents entry received for the game (accepted or not). */
  events: ReceivedEntry[];
}

export interface RegistrationObservation {
  plan: RegistrationPlan;
  lane: number;
  calls: CallObservation[];
  faults: InjectedFault[];
  /** Requests of this registration with no fault whose answer the caller gave up waiting for (its request timeout on a slow DynamoDB Local, or its own abort): lost answers nobody planned. */
  unplannedTimeouts: number;
  state: GameState;
}

export interface RelayRound {
  mode: 'ok' | 'refuse-some' | 'http-500' | 'failed-entry';
  invocations: number;
  records: number;
  failed: number;
  error?: string;
}

export interface ReconcilerTick {
  final: boolean;
  faulted: number;
  examined: number;
  reclaimed: number;
  error?: string;
  metrics: CapturedMetric[];
}

export interface ChaosRun {
  seed: number;
  lanes: number;
  durationMs: number;
  /** Where the time went: tables and environments, the registrations, the reconciler and the relay drain at the end. */
  phasesMs: { setup: number; play: number; settle: number };
  registrations: RegistrationObservation[];
  relayRounds: RelayRound[];
  reconcilerTicks: ReconcilerTick[];
  strayMetrics: CapturedMetric[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the proxy has nothing in flight and no request arrived for `quietMs` (at most `maxMs`). */
async function waitQuiet(proxy: DynamoProxy, quietMs: number, maxMs: number): Promise<void> {
  const until = Date.now() + maxMs;
  while (Date.now() < until) {
    if (proxy.inFlight === 0 && Date.now() - proxy.lastArrivalAt >= quietMs) return;
    await sleep(Math.min(50, quietMs));
  }
}

/** The actions of a TransactWriteItems body: kind (Put, Update, Delete, ConditionCheck) and table. */
function transactActions(body: string): { kind: string; table: string }[] {
  try {
    const parsed = JSON.parse(body) as { TransactItems?: Record<string, { TableName?: string }>[] };
    return (parsed.TransactItems ?? []).flatMap((item) => Object.entries(item).map(([kind, action]) => ({ kind, table: action?.TableName ?? '' })));
  } catch {
    return [];
  }
}

const READ_OPS = new Set(['GetItem', 'BatchGetItem', 'Query', 'TransactGetItems', 'Scan']);

/** The plan's steps as request predicates; `commitSentBefore` says whether the commit went out before this request. */
function stepMatcher(step: Step, names: TableNames, view: { commitSentBefore: boolean }): (req: ProxiedRequest) => boolean {
  const isRead = (req: ProxiedRequest) => READ_OPS.has(req.op);
  switch (step) {
    case 'read':
      return (req) => isRead(req) && (req.tables.includes(names.runtimeRecords) || req.tables.includes(names.engineVersions));
    case 'key':
      return (req) => req.tables.includes(names.idempotency);
    case 'insert':
      return (req) => req.op === 'PutItem' && req.tables.includes(names.runtimeRecords);
    case 'mappings':
      return (req) => !isRead(req) && req.tables.includes(names.playerMappings) && !isCommit(req, names);
    case 'commit':
      return (req) => isCommit(req, names);
    case 'records-write-after-commit':
      return (req) => view.commitSentBefore && !isRead(req) && req.tables.includes(names.runtimeRecords);
    case 'after-commit':
      return () => view.commitSentBefore;
    case 'any':
      return () => true;
  }
}

/** The commit: one transaction with an Update on the runtime records table and a Put on the outbox table. */
export function isCommit(req: ProxiedRequest, names: TableNames): boolean {
  if (req.op !== 'TransactWriteItems') return false;
  const actions = transactActions(req.body);
  return actions.some((a) => a.kind === 'Update' && a.table === names.runtimeRecords) && actions.some((a) => a.kind === 'Put' && a.table === names.outbox);
}

/** Installs a plan's faults on a lane's proxy; answers the handles (for the counts) and a remover. */
function installFaults(proxy: DynamoProxy, plan: RegistrationPlan, names: TableNames): { handles: Fault[]; remove(): void } {
  const view = { commitSentBefore: false, commitSent: false };
  // First rule: never faults, only watches for the commit (every request
  // passes it, since its match is always asked first).
  const watcher = proxy.fault({
    mode: 'internal-error',
    match: (req) => {
      view.commitSentBefore = view.commitSent;
      if (isCommit(req, names)) view.commitSent = true;
      return false;
    },
  });
  const handles = plan.faults.map((spec) =>
    proxy.fault({
      match: stepMatcher(spec.step, names, view),
      mode: spec.mode,
      after: spec.after,
      times: spec.times,
      ...(spec.delayMs > 0 ? { delayMs: spec.delayMs } : {}),
    }),
  );
  return {
    handles,
    remove() {
      watcher.remove();
      for (const h of handles) h.remove();
    },
  };
}

function engineEndpoint(engine: EngineServer, plan: RegistrationPlan): string {
  const b = plan.engine;
  const scenario = b.kind === 'slow' ? `slow-${b.ms}` : b.kind === 'status' ? `status-${b.status}` : b.kind;
  // The first segment picks the behaviour; the game id only makes the engine's log readable.
  return `${engine.url}/${scenario}/${plan.gameId}`;
}

function requestBody(plan: RegistrationPlan, endpoint: string): string {
  return JSON.stringify({
    game_id: plan.gameId,
    engine_endpoint: endpoint,
    members: Array.from({ length: plan.members }, (_, i) => ({ user_id: `u-${i + 1}`, race_name: `Race ${i + 1}` })),
    target_engine_version: SEEDED_VERSION,
    turn_schedule: '0 */6 * * *',
  });
}

interface Lane {
  index: number;
  proxy: DynamoProxy;
  envs: { name: string; handler: Handler }[];
  /** When the registration it plays started (undefined: idle). */
  busySince?: number;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosRun> {
  const started = Date.now();
  const progress = options.onProgress ?? (() => {});
  const laneCount = Math.max(1, options.lanes ?? 6);
  const indexes = options.only ?? Array.from({ length: options.registrations }, (_, i) => i);
  // Longest first (a guess from the plan): the run ends with short ones.
  const plans = indexes.map((i) => planRegistration(options.seed, i)).sort((a, b) => expectedCostMs(b) - expectedCostMs(a) || a.index - b.index);

  // The tables, on the run's own prefix.
  const names = tableNames(`chaos${randomBytes(4).toString('hex')}`);
  const admin = new DynamoDBClient({
    endpoint: options.dynamoEndpoint,
    region: LOCAL_AWS_ENV.AWS_REGION,
    credentials: { accessKeyId: LOCAL_AWS_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: LOCAL_AWS_ENV.AWS_SECRET_ACCESS_KEY },
  });
  const doc = DynamoDBDocumentClient.from(admin);
  await createTables(admin, names);
  await doc.send(new PutCommand({ TableName: names.engineVersions, Item: { version: SEEDED_VERSION, image_ref: `registry.local/galaxy/engine:${SEEDED_VERSION}` } }));

  const engine = await startEngineServer();
  const events = await startEventBridgeServer();
  const lanes: Lane[] = [];
  const reconcilerProxy = await startDynamoProxy(options.dynamoEndpoint);
  const capture: OutputCapture = captureOutput();
  const env: Record<string, string> = {
    ...LOCAL_AWS_ENV,
    AWS_ENDPOINT_URL_EVENTBRIDGE: events.url,
    EVENT_BUS_NAME: 'game-master-chaos-events',
    ENGINE_ALLOWED_HOSTS: '127.0.0.1,localhost',
    ENGINE_ALLOW_LOOPBACK: 'true',
    ENGINE_TIMEOUT_MS: String(CHAOS_ENGINE_TIMEOUT_MS),
    // Info lines say what each operation decided: kept per call for the report.
    POWERTOOLS_LOG_LEVEL: 'INFO',
  };
  for (const [key, variable] of Object.entries(TABLE_ENV)) env[variable] = names[key as TableKey];
  const savedEnv = { ...process.env };
  Object.assign(process.env, env);

  const registrations: RegistrationObservation[] = [];
  const relayRounds: RelayRound[] = [];
  const reconcilerTicks: ReconcilerTick[] = [];
  let relay: StreamRelay | undefined;
  try {
    // Execution environments: each imported afresh while AWS_ENDPOINT_URL_DYNAMODB
    // names its lane's proxy, and warmed by one call (an invalid body, audited),
    // which fixes its DynamoDB client's endpoint (the SDK reads it at the first request).
    const registerPath = new URL('../../../functions/register-runtime/handler.ts', import.meta.url).pathname;
    for (let l = 0; l < Math.min(laneCount, plans.length); l++) {
      const proxy = await startDynamoProxy(options.dynamoEndpoint);
      const lane: Lane = { index: l, proxy, envs: [] };
      for (const e of ['a', 'b']) {
        process.env.AWS_ENDPOINT_URL_DYNAMODB = proxy.url;
        const mod = (await options.importFresh(registerPath, `lane${l}${e}`)) as { handler: Handler };
        const before = proxy.requests.length;
        await capture.run(`warmup-${l}${e}`, () => mod.handler(apiEvent({}), lambdaContext()));
        if (proxy.requests.length === before) throw new Error(`chaos: environment ${l}${e} did not reach its lane's proxy at warm-up`);
        lane.envs.push({ name: `lane${l}${e}`, handler: mod.handler });
      }
      lanes.push(lane);
    }
    // Whatever else resolves its endpoint from here on (the relay) talks to DynamoDB Local directly.
    process.env.AWS_ENDPOINT_URL_DYNAMODB = options.dynamoEndpoint;
    const relayPath = new URL('../../../functions/publish-snapshots/handler.ts', import.meta.url).pathname;
    const relayMod = (await options.importFresh(relayPath, 'relay')) as { handler: RelayHandler };
    relay = await StreamRelay.open({
      endpoint: options.dynamoEndpoint,
      table: names.outbox,
      handler: (event) => relayMod.handler(event, lambdaContext(30_000, 'game-master-chaos-publishSnapshots')),
    });
    const config = loadConfig(process.env);
    const reconcilerClient = new DynamoDBClient({
      endpoint: reconcilerProxy.url,
      region: LOCAL_AWS_ENV.AWS_REGION,
      credentials: { accessKeyId: LOCAL_AWS_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: LOCAL_AWS_ENV.AWS_SECRET_ACCESS_KEY },
      maxAttempts: 3,
      requestHandler: { connectionTimeout: 1000, requestTimeout: 2000, throwOnRequestTimeout: true },
    });
    progress(`chaos seed ${options.seed}: ${plans.length} registrations in ${lanes.length} lanes (tables ${names.runtimeRecords.replace(/-runtime-records$/, '')}-*)`);

    // --- the lanes -----------------------------------------------------
    let next = 0;
    let finished = 0;
    const playLane = async (lane: Lane) => {
      for (;;) {
        const plan = plans[next++];
        if (!plan) return;
        lane.busySince = Date.now();
        const observation = await play(lane, plan);
        registrations.push(observation);
        options.onRegistration?.(observation);
        lane.busySince = undefined;
        finished++;
        if (finished % 10 === 0 || finished === plans.length) progress(`  ${finished}/${plans.length} registrations played (${Math.round((Date.now() - started) / 1000)} s)`);
      }
    };

    const play = async (lane: Lane, plan: RegistrationPlan): Promise<RegistrationObservation> => {
      const rnd = prng(plan.seed ^ 0x5bd1e995);
      const faults = installFaults(lane.proxy, plan, names);
      const firstRequest = lane.proxy.requests.length;
      const body = requestBody(plan, engineEndpoint(engine, plan));
      const key = plan.keyed ? `key-${plan.gameId}` : undefined;
      const calls: CallObservation[] = [];
      let n = 0;
      const call = async (envIndex: number, role: CallObservation['role'], deadlineMs: number): Promise<void> => {
        const environment = lane.envs[envIndex] as Lane['envs'][number];
        const id = `${plan.gameId}.c${++n}`;
        const obs: CallObservation = { id, role, env: environment.name, deadlineMs, startedAt: Date.now(), headers: {}, metrics: [], logs: [], ...(key ? { key } : {}) };
        calls.push(obs);
        const event = apiEvent(body, { raw: true, headers: { 'x-request-id': id, ...(key ? { 'idempotency-key': key } : {}) } });
        const answer = capture.run(id, () => environment.handler(event, lambdaContext(deadlineMs)));
        // Bound: the deadline plus room for a guard that misbehaves.
        let timer: NodeJS.Timeout | undefined;
        const bound = new Promise<'bound'>((resolve) => {
          timer = setTimeout(() => resolve('bound'), deadlineMs + 15_000);
        });
        try {
          const result = await Promise.race([answer, bound]);
          if (result === 'bound') {
            obs.noAnswer = true;
            return;
          }
          obs.answeredAt = Date.now();
          obs.status = result.statusCode;
          obs.rawBody = String(result.body ?? '');
          const problems = answerProblems('POST', '/internal/v1/runtimes', result);
          if (problems.length > 0) recordViolation(`chaos ${id}: answer does not match docs/openapi.yaml:\n  ${problems.join('\n  ')}`);
          obs.headers = Object.fromEntries(Object.entries(result.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
          try {
            obs.body = JSON.parse(obs.rawBody);
          } catch {
            obs.body = obs.rawBody;
          }
        } catch (err) {
          obs.answeredAt = Date.now();
          obs.threw = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        } finally {
          clearTimeout(timer);
        }
      };
      const first = rnd() < 0.5 ? 0 : 1;
      if (plan.parallel) await Promise.all([call(first, 'first', plan.deadlineMs), call(1 - first, 'parallel', plan.deadlineMs)]);
      else await call(first, 'first', plan.deadlineMs);
      // Lobby's retry with the same key and body, at once (the first call may still be working).
      if (plan.retry) await call(rnd() < 0.5 ? 0 : 1, 'retry', 28_000);
      // An answer near the deadline may be the guard's, with the operation still
      // at work: wait until its lane's store has been quiet longer than any
      // pause between its requests (a retry back-off; a hung or delayed
      // request counts as in flight), so that its late requests never meet the
      // next plan's faults. Otherwise the operation answered when it was done.
      const guardLikely = calls.some((c) => c.noAnswer || c.answeredAt === undefined || c.answeredAt - c.startedAt >= c.deadlineMs - 1250);
      await waitQuiet(lane.proxy, guardLikely ? 1500 : 150, 30_000);
      const injected = plan.faults.map((spec, i) => ({ spec, injected: faults.handles[i]?.faulted ?? 0 }));
      faults.remove();
      const unplannedTimeouts = lane.proxy.requests.slice(firstRequest).filter((r) => r.callerGaveUp).length;
      return { plan, lane: lane.index, calls, faults: injected, unplannedTimeouts, state: { mappings: [], log: [], outbox: [], events: [] } };
    };

    // --- the relay rounds and reconciler ticks, while the lanes play ---
    let playing = true;
    const runRng = prng(options.seed ^ 0x27d4eb2f);
    const relayLoop = async () => {
      while (playing) {
        const mode = ((r: number): RelayRound['mode'] => (r < 0.5 ? 'ok' : r < 0.7 ? 'refuse-some' : r < 0.85 ? 'http-500' : 'failed-entry'))(runRng());
        const salt = Math.floor(runRng() * 1e9);
        events.mode = mode === 'http-500' ? 'http-500' : mode === 'failed-entry' ? 'failed-entry' : 'ok';
        events.refuse = mode === 'refuse-some' ? (entry) => (hash(`${entry.Detail}${salt}`) & 1) === 1 : undefined;
        relayRounds.push(await pumpOnce(mode));
        events.mode = 'ok';
        events.refuse = undefined;
        await sleep(100 + Math.floor(runRng() * 300));
      }
    };
    const pumpOnce = async (mode: RelayRound['mode']): Promise<RelayRound> => {
      try {
        const invocations = await capture.run('relay', () => (relay as StreamRelay).pump());
        return {
          mode,
          invocations: invocations.length,
          records: invocations.reduce((s, i) => s + i.records.length, 0),
          failed: invocations.reduce((s, i) => s + i.failed.length, 0),
        };
      } catch (err) {
        return { mode, invocations: 0, records: 0, failed: 0, error: String(err) };
      }
    };
    let tickNo = 0;
    const tick = async (final: boolean): Promise<void> => {
      // The clock: STARTING_TIMEOUT_S after the start of the oldest registration
      // still in play (final: after every one), so only records left by
      // registrations that are over are old enough, as in production where the
      // timeout exceeds the Lambda's.
      const busy = lanes.map((l) => l.busySince).filter((t): t is number => t !== undefined);
      const horizon = final ? Date.now() + 60_000 : Math.min(Date.now(), ...busy) - 1;
      const base = horizon + config.startingTimeoutS * 1000;
      const t0 = Date.now();
      const clock = () => new Date(base + (Date.now() - t0));
      const faulted = !final && runRng() < 0.3;
      const rule = faulted ? reconcilerProxy.fault({ match: () => true, mode: runRng() < 0.5 ? 'internal-error' : 'throttle', after: Math.floor(runRng() * 4), times: 1 + Math.floor(runRng() * 3) }) : undefined;
      const id = `reconciler-${++tickNo}`;
      const reconciler = buildReconciler(config, { dynamo: reconcilerClient, clock });
      try {
        const result = await capture.run(id, () => reconciler.run());
        reconcilerTicks.push({ final, faulted: rule?.faulted ?? 0, ...result, metrics: capture.metrics(id) });
      } catch (err) {
        reconcilerTicks.push({ final, faulted: rule?.faulted ?? 0, examined: 0, reclaimed: 0, error: String(err), metrics: capture.metrics(id) });
      } finally {
        rule?.remove();
      }
    };
    const reconcilerLoop = async () => {
      while (playing) {
        await sleep(1000 + Math.floor(runRng() * 1000));
        if (playing) await tick(false);
      }
    };

    const playStarted = Date.now();
    const background = Promise.all([relayLoop(), reconcilerLoop()]);
    await Promise.all(lanes.map(playLane));
    playing = false;
    await background;

    // --- settle: reconciler (time past STARTING_TIMEOUT_S), then the relay drained ---
    progress(`  every registration played (${Math.round((Date.now() - started) / 1000)} s); reconciling and draining the relay`);
    const settleStarted = Date.now();
    await tick(true);
    await tick(true);
    for (let round = 0; round < 40; round++) {
      const r = await pumpOnce('ok');
      relayRounds.push(r);
      if (r.invocations === 0 && !r.error) break;
    }

    // --- what is left ---
    const outbox = await scanAll(doc, names.outbox);
    for (const obs of registrations) {
      const gameId = obs.plan.gameId;
      const record = await doc.send(new GetCommand({ TableName: names.runtimeRecords, Key: { game_id: gameId }, ConsistentRead: true }));
      obs.state = {
        ...(record.Item ? { record: record.Item } : {}),
        mappings: await queryGame(doc, names.playerMappings, gameId),
        log: await queryGame(doc, names.operationLog, gameId),
        outbox: outbox.filter((item) => item.game_id === gameId),
        events: events.entries.filter((e) => (e.detail as { game_id?: unknown } | undefined)?.game_id === gameId),
      };
      for (const c of obs.calls) {
        c.metrics = capture.metrics(c.id);
        c.logs = capture.logs(c.id);
      }
    }
    registrations.sort((a, b) => a.plan.index - b.plan.index);
    return {
      seed: options.seed,
      lanes: lanes.length,
      durationMs: Date.now() - started,
      phasesMs: { setup: playStarted - started, play: settleStarted - playStarted, settle: Date.now() - settleStarted },
      registrations,
      relayRounds,
      reconcilerTicks,
      strayMetrics: capture.stray(),
    };
  } finally {
    capture.restore();
    relay?.close();
    for (const lane of lanes) await lane.proxy.close();
    await reconcilerProxy.close();
    await engine.close();
    await events.close();
    admin.destroy();
    for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
    Object.assign(process.env, savedEnv);
  }
}

async function queryGame(doc: DynamoDBDocumentClient, table: string, gameId: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  const input = { TableName: table, KeyConditionExpression: 'game_id = :g', ExpressionAttributeValues: { ':g': gameId }, ConsistentRead: true };
  for await (const page of paginateQuery({ client: doc }, input)) items.push(...(page.Items ?? []));
  return items;
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}
