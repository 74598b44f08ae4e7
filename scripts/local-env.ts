/**
 * The local environment of `npm start`, `npm run invoke` and `npm run dev`:
 * DynamoDB Local in memory with the tables of infra/tables.yml (the same
 * definitions serverless.yml deploys), the seed rows the samples in events/
 * need, the loopback engine on a fixed port (the samples name it), and the
 * loopback EventBridge double. Everything listens on 127.0.0.1 only.
 * `startSnapshotRelay` adds the outbox stream's event source mapping: the
 * real publishSnapshots handler fed from DynamoDB Local's stream.
 *
 * Table and bus names are the ones serverless.yml gives the stage `local`,
 * so `serverless invoke local --stage local` and `serverless offline --stage
 * local` pass the functions exactly the names created here.
 */
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../lib/adapters/dynamodb-conditions.ts';
import {
  checkJava,
  createTables,
  LOCAL_AWS_ENV,
  scanAll,
  type LocalDynamo,
  startDynamoDbLocal,
  TABLE_ENV,
  type TableKey,
  type TableNames,
  tableNames,
} from '../infra/local-stack.ts';
import { type EngineServer, startEngineServer } from '../test/support/engine-server.ts';
import { type EventBridgeDouble, startEventBridgeServer } from '../test/support/eventbridge-server.ts';
import { lambdaContext } from '../test/support/harness.ts';
import { type StreamHandler, StreamRelay } from '../test/support/stream-relay.ts';

/** The serverless.yml stage whose names and params the local runs use. */
export const LOCAL_STAGE = 'local';
/** The engine's port; events/*.json name http://127.0.0.1:18080. */
export const LOCAL_ENGINE_PORT = 18080;
export const SEEDED_VERSION = '1.4.2';
export const SEEDED_IMAGE_REF = 'registry.local/galaxy/engine:1.4.2';
/** The game of events/conflict.json: already registered when the environment starts. */
export const REGISTERED_GAME_ID = 'g-already-running';

export interface LocalEnvironment {
  /** Everything a handler needs in process.env (names, endpoints, settings, dummy credentials). */
  env: Record<string, string>;
  tables: TableNames;
  dynamo: LocalDynamo;
  doc: DynamoDBDocumentClient;
  engine: EngineServer;
  events: EventBridgeDouble;
  /** Every row of every table, by table key. */
  rows(): Promise<Record<TableKey, Record<string, unknown>[]>>;
  /** Stops everything; safe to call more than once. */
  stop(): Promise<void>;
}

export interface LocalEnvironmentOptions {
  onProgress?: (message: string) => void;
  enginePort?: number;
  /**
   * Told the stop function of each component as soon as it runs, so a
   * caller interrupted (Ctrl-C) while the environment is still starting can
   * stop what is already up. Stopping twice is harmless.
   */
  onStarted?: (stop: () => Promise<void>) => void;
}

export class EnginePortBusyError extends Error {
  override readonly name = 'EnginePortBusyError';
}

export async function startLocalEnvironment(options: LocalEnvironmentOptions = {}): Promise<LocalEnvironment> {
  const progress = options.onProgress ?? (() => undefined);
  const enginePort = options.enginePort ?? LOCAL_ENGINE_PORT;
  const stops: (() => Promise<void>)[] = [];
  const started = (stop: () => Promise<void>) => {
    stops.push(stop);
    options.onStarted?.(stop);
  };
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) {
      try {
        await stop();
      } catch {
        // keep stopping the rest
      }
    }
  };

  try {
    // Java first: without it nothing else is worth starting (one clear line).
    checkJava();
    // The engine next: its port is fixed and may be taken, which is the
    // cheapest failure to report before DynamoDB Local's JVM starts.
    let engine: EngineServer;
    try {
      engine = await startEngineServer({ port: enginePort });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        throw new EnginePortBusyError(
          `port ${enginePort} on 127.0.0.1 is in use; the local engine needs it (events/*.json name it). Stop whatever holds it (another npm start/dev?) and try again.`,
        );
      }
      throw err;
    }
    started(() => engine.close());
    progress(`local engine listening on ${engine.url}`);

    const events = await startEventBridgeServer();
    started(() => events.close());
    progress(`EventBridge double listening on ${events.url}`);

    progress('starting DynamoDB Local (in memory)');
    const dynamo = await startDynamoDbLocal({ onProgress: progress });
    started(() => dynamo.stop());
    progress(`DynamoDB Local answering on ${dynamo.endpoint}`);

    const tables = tableNames(`game-master-${LOCAL_STAGE}`);
    await createTables(dynamo.client, tables);
    progress(`created tables ${Object.values(tables).join(', ')}`);

    const doc = documentClient(dynamo.client);
    await seed(doc, tables, engine.url);
    progress(`seeded engine version ${SEEDED_VERSION} -> ${SEEDED_IMAGE_REF} and the running game ${REGISTERED_GAME_ID} (2 players, 2 audit entries)`);

    const env: Record<string, string> = {
      ...LOCAL_AWS_ENV,
      AWS_DEFAULT_REGION: LOCAL_AWS_ENV.AWS_REGION,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_EVENTBRIDGE: events.url,
      EVENT_BUS_NAME: `game-master-${LOCAL_STAGE}-events`,
      ENGINE_ALLOWED_HOSTS: '127.0.0.1,localhost',
      ENGINE_ALLOW_LOOPBACK: 'true',
      ENGINE_TIMEOUT_MS: '10000',
      IDEMPOTENCY_TTL_S: '86400',
      STARTING_TIMEOUT_S: '120',
      OUTBOX_TTL_S: '604800',
      POWERTOOLS_SERVICE_NAME: 'game-master',
      POWERTOOLS_METRICS_NAMESPACE: 'Galaxy/GameMaster',
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'INFO',
      // What Lambda sets in an on-demand environment. Powertools reports
      // `cold_start: true` only when it says `on-demand` (without it, every
      // log line says false). serverless-offline and `invoke local` pass
      // AWS_* variables on to the handlers.
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    };
    for (const [key, variable] of Object.entries(TABLE_ENV)) env[variable] = tables[key as TableKey];

    return {
      env,
      tables,
      dynamo,
      doc,
      engine,
      events,
      async rows() {
        const out = {} as Record<TableKey, Record<string, unknown>[]>;
        for (const key of Object.keys(tables) as TableKey[]) out[key] = await scanAll(doc, tables[key]);
        return out;
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * The outbox relay, locally: the real publishSnapshots handler (imported
 * here, in this process, with the local environment: its cold start), fed
 * by the outbox table's stream on DynamoDB Local as the deployed event
 * source mapping feeds it (test/support/stream-relay.ts). Each `pump()` is
 * one round; its PutEvents reach the EventBridge double.
 */
export async function startSnapshotRelay(local: LocalEnvironment): Promise<StreamRelay> {
  Object.assign(process.env, local.env);
  const { handler } = (await import('../functions/publish-snapshots/handler.ts')) as {
    handler: (event: Parameters<StreamHandler>[0], context: ReturnType<typeof lambdaContext>) => ReturnType<StreamHandler>;
  };
  return StreamRelay.open({
    endpoint: local.dynamo.endpoint,
    table: local.tables.outbox,
    handler: (event) => handler(event, lambdaContext(30_000, `game-master-${LOCAL_STAGE}-publishSnapshots`)),
  });
}

/** What one relay round did, as lines for a person reading the output. */
export function describeRelayRound(invocations: Awaited<ReturnType<StreamRelay['pump']>>): string[] {
  if (invocations.length === 0) return ['no new outbox records on the stream (nothing committed, nothing to deliver)'];
  return invocations.map(
    (i) =>
      `publishSnapshots invoked with ${i.records.length} stream record(s) (${i.records.map((r) => r.dynamodb?.Keys?.event_id?.S).join(', ')}): ` +
      (i.failed.length === 0 ? 'all delivered' : `${i.failed.length} reported as batch item failure(s), retried next round`),
  );
}

/** The rows the samples expect to find. */
async function seed(doc: DynamoDBDocumentClient, tables: TableNames, engineUrl: string): Promise<void> {
  const at = '2026-11-24T09:00:00.000Z';
  await doc.send(
    new PutCommand({ TableName: tables.engineVersions, Item: { version: SEEDED_VERSION, image_ref: SEEDED_IMAGE_REF, created_at: at } }),
  );
  // A game registered earlier, so events/conflict.json meets `conflict` and
  // events/read-runtime.json / read-operations.json have something to read.
  await doc.send(
    new PutCommand({
      TableName: tables.runtimeRecords,
      Item: {
        game_id: REGISTERED_GAME_ID,
        status: 'running',
        engine_endpoint: `${engineUrl}/ok`,
        current_image_ref: SEEDED_IMAGE_REF,
        current_engine_version: SEEDED_VERSION,
        turn_schedule: '0 */6 * * *',
        current_turn: 0,
        next_generation_at: '2026-11-24T12:00:00.000Z',
        skip_next_tick: false,
        engine_health: '',
        created_at: at,
        updated_at: at,
        op_id: 'seed',
      },
    }),
  );
  for (const [user_id, race_name, uuid] of [
    ['u-1', 'Zorgons', '6f1c1a52-0000-4000-8000-000000000001'],
    ['u-2', 'Vellani', '6f1c1a52-0000-4000-8000-000000000002'],
  ] as const) {
    await doc.send(
      new PutCommand({
        TableName: tables.playerMappings,
        Item: { game_id: REGISTERED_GAME_ID, user_id, race_name, engine_player_uuid: uuid, created_at: at, op_id: 'seed' },
      }),
    );
  }
  // Its audit trail: a failed attempt, then the registration that succeeded.
  for (const [i, outcome, error_code, error_message] of [
    [0, 'failure', 'engine_unreachable', 'engine did not answer'],
    [1, 'success', '', ''],
  ] as const) {
    const started = new Date(Date.parse(at) - (2 - i) * 60_000).toISOString();
    await doc.send(
      new PutCommand({
        TableName: tables.operationLog,
        Item: {
          game_id: REGISTERED_GAME_ID,
          op_id: `${started}#seed000000000000000${i}`,
          op_kind: 'register_runtime',
          op_source: 'lobby_internal',
          source_ref: `seed-${i}`,
          outcome,
          error_code,
          error_message,
          started_at: started,
          finished_at: started,
        },
      }),
    );
  }
}

/**
 * Runs `body` with the environment up, and stops it afterwards: on success,
 * on failure, and on Ctrl-C / SIGTERM. `body` gets a way to register its
 * own cleanup (e.g. a child process) that runs first.
 */
export async function withLocalEnvironment(
  name: string,
  body: (local: LocalEnvironment, onStop: (fn: () => Promise<void> | void) => void) => Promise<number>,
): Promise<void> {
  const say = (message: string) => console.log(`[${name}] ${message}`);
  const extraStops: (() => Promise<void> | void)[] = [];
  /** Components already up, in start order (also while still starting). */
  const componentStops: (() => Promise<void>)[] = [];
  let local: LocalEnvironment | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      for (const fn of extraStops.splice(0).reverse()) {
        try {
          await fn();
        } catch {
          // keep going
        }
      }
      if (componentStops.length > 0) say('stopping the local environment');
      for (const fn of componentStops.splice(0).reverse()) {
        try {
          await fn();
        } catch {
          // already stopped, or gone
        }
      }
    })());
  const exitCodeFor = (signal: NodeJS.Signals) => (signal === 'SIGINT' ? 130 : 143);
  let starting = true;
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) {
      say(`${signal} again: exiting without waiting`);
      process.exit(exitCodeFor(signal));
    }
    interrupted = signal;
    if (starting) {
      // DynamoDB Local's process is only known once it answers: stop
      // everything as soon as it has (Ctrl-C again to leave at once).
      say(`${signal}: cleaning up as soon as the environment has started`);
      return;
    }
    say(`${signal}: cleaning up`);
    void stop().finally(() => process.exit(exitCodeFor(signal)));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let code = 1;
  try {
    local = await startLocalEnvironment({ onProgress: say, onStarted: (fn) => componentStops.push(fn) });
    starting = false;
    if (interrupted) {
      await stop();
      process.exit(exitCodeFor(interrupted));
    }
    code = await body(local, (fn) => extraStops.push(fn));
  } catch (err) {
    starting = false;
    const e = err as Error;
    if (e?.name === 'JavaMissingError' || e?.name === 'EnginePortBusyError') {
      console.error(`[${name}] ${e.message}`);
    } else {
      console.error(`[${name}] failed: ${e?.stack ?? String(err)}`);
    }
    code = 1;
  } finally {
    await stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (interrupted) process.exit(exitCodeFor(interrupted));
  process.exitCode = code;
  // Idle keep-alive sockets of the handler's SDK and engine clients may hold
  // the event loop open; everything worth waiting for is done.
  setTimeout(() => process.exit(code), 1000).unref();
}
