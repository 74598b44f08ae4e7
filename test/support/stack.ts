/**
 * The deployed handler on the local stack: per-file tables on DynamoDB
 * Local, a seeded engine version, the loopback engine and EventBridge
 * double, and the real handler module imported with that environment
 * (configuration is read at import, as at a Lambda cold start).
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { expect, vi } from 'vitest';
import { checkHttpAnswerOf } from './contract.ts';
import { createTestTables, type TestTables } from './dynamo.ts';
import { type EngineServer, HEALTHY_PLAYER, startEngineServer } from './engine-server.ts';
import { type EventBridgeDouble, startEventBridgeServer } from './eventbridge-server.ts';
import { lambdaContext } from './harness.ts';
import { type StreamHandler, StreamRelay } from './stream-relay.ts';

export const SEEDED_VERSION = '1.4.2';
export const SEEDED_IMAGE = 'registry.local/galaxy/engine:1.4.2';

export type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

export interface Stack {
  tables: TestTables;
  engine: EngineServer;
  events: EventBridgeDouble;
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startStack(extraEnv: Record<string, string> = {}): Promise<Stack> {
  const tables = await createTestTables();
  await tables.seedEngineVersion(SEEDED_VERSION, SEEDED_IMAGE);
  const engine = await startEngineServer();
  const events = await startEventBridgeServer();
  const env: Record<string, string> = {
    ...tables.env,
    AWS_ENDPOINT_URL_EVENTBRIDGE: events.url,
    EVENT_BUS_NAME: 'game-master-test-events',
    ENGINE_ALLOWED_HOSTS: '127.0.0.1,localhost',
    ENGINE_ALLOW_LOOPBACK: 'true',
    ENGINE_TIMEOUT_MS: '10000',
    ...extraEnv,
  };
  Object.assign(process.env, env);
  return {
    tables,
    engine,
    events,
    env,
    async close() {
      await engine.close();
      await events.close();
    },
  };
}

/**
 * Imports a handler module afresh, so it reads the current environment at
 * "cold start". The handler returned checks every HTTP answer against the
 * published contract (docs/openapi.yaml), routing by the event's method and
 * path: a violation rejects the call and is recorded, so that the test
 * fails even if it swallowed the rejection (test/support/contract-setup.ts).
 */
export async function coldStart<T = Handler>(modulePath: string): Promise<T> {
  vi.resetModules();
  const mod = (await import(modulePath)) as { handler: T };
  return checkedAgainstContract(mod.handler);
}

function checkedAgainstContract<T>(handler: T): T {
  if (typeof handler !== 'function') return handler;
  const checked = async (...args: unknown[]) => {
    const result = await (handler as (...a: unknown[]) => Promise<unknown>)(...args);
    checkHttpAnswerOf(args[0], result);
    return result;
  };
  return checked as T;
}

export function parse(result: APIGatewayProxyStructuredResultV2): { status: number; body: any; headers: Record<string, unknown> } {
  return {
    status: result.statusCode ?? 0,
    body: JSON.parse(String(result.body)),
    // Header names compare case-insensitively: keyed in lower case here.
    headers: Object.fromEntries(Object.entries(result.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
  };
}

/** The snapshot detail a registration of `userIds` on a healthy engine publishes (any occurred_at). */
export function healthySnapshotDetail(gameId: string, userIds: readonly string[]) {
  return {
    game_id: gameId,
    current_turn: 0,
    runtime_status: 'running',
    engine_health_summary: '',
    occurred_at: expect.any(String),
    player_turn_stats: [...userIds].sort().map((user_id) => ({ user_id, ...HEALTHY_PLAYER })),
  };
}

/**
 * The outbox stream of the stack's tables feeding the real publishSnapshots
 * handler (imported afresh: its cold start reads the current environment),
 * as the event source mapping does; `pump()` is one round of it.
 */
export async function startRelay(stack: Stack): Promise<StreamRelay> {
  const handler = await coldStart<(event: Parameters<StreamHandler>[0], context: Context) => ReturnType<StreamHandler>>(
    '../../functions/publish-snapshots/handler.ts',
  );
  return StreamRelay.open({
    endpoint: stack.tables.endpoint,
    table: stack.tables.names.outbox,
    handler: (event) => handler(event, lambdaContext(30_000, 'game-master-test-publishSnapshots')),
  });
}

/** The Detail a registration's outbox item carries: event_id first, then the snapshot. */
export function healthyOutboxDetail(gameId: string, userIds: readonly string[]) {
  return { event_id: expect.any(String), ...healthySnapshotDetail(gameId, userIds) };
}
