/**
 * Fixtures shared by the tests: a Lambda context, API Gateway events,
 * request bodies, and recording doubles of the telemetry and log ports.
 */
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import type { Log, Telemetry } from '../../lib/ports.ts';

/** A Lambda context like the runtime's, whose deadline is `remainingMs` (default: the deployed 28 s) from its creation. */
export function lambdaContext(remainingMs = 28_000, functionName = 'game-master-test-registerRuntime'): Context {
  const deadline = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `2026/11/25/[$LATEST]${randomUUID().replaceAll('-', '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

let requestCounter = 0;

/** An API Gateway HTTP API (payload 2.0) event for POST /internal/v1/runtimes. */
export function apiEvent(
  body: unknown,
  options: { headers?: Record<string, string>; isBase64Encoded?: boolean; raw?: boolean } = {},
): APIGatewayProxyEventV2 {
  const requestId = `req-${++requestCounter}-${Date.now()}`;
  return {
    version: '2.0',
    routeKey: 'POST /internal/v1/runtimes',
    rawPath: '/internal/v1/runtimes',
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...(options.headers ?? {}) },
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: { method: 'POST', path: '/internal/v1/runtimes', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId,
      routeKey: 'POST /internal/v1/runtimes',
      stage: '$default',
      time: '25/Nov/2026:10:00:00 +0000',
      timeEpoch: Date.now(),
    },
    body: options.raw ? (body as string | undefined) : JSON.stringify(body),
    isBase64Encoded: options.isBase64Encoded ?? false,
  };
}

export interface BodyOptions {
  members?: number;
  version?: string;
  schedule?: string;
}

/** A valid request body for `gameId` with an engine at `endpoint`. */
export function registerBody(gameId: string, endpoint: string, options: BodyOptions = {}) {
  const count = options.members ?? 2;
  return {
    game_id: gameId,
    engine_endpoint: endpoint,
    members: Array.from({ length: count }, (_, i) => ({ user_id: `u-${String(i + 1).padStart(3, '0')}`, race_name: `Race ${i + 1}` })),
    target_engine_version: options.version ?? '1.4.2',
    turn_schedule: options.schedule ?? '0 */6 * * *',
  };
}

export class RecordingTelemetry implements Telemetry {
  readonly outcomes: { outcome: string; error_code: string }[] = [];
  readonly published: string[] = [];
  registerOutcome(outcome: 'success' | 'failure', errorCode: string): void {
    this.outcomes.push({ outcome, error_code: errorCode });
  }
  eventPublished(eventType: 'runtime_snapshot_update'): void {
    this.published.push(eventType);
  }
  readonly lags: { event_type: string; ms: number }[] = [];
  eventDeliveryLag(eventType: 'runtime_snapshot_update', lagMs: number): void {
    this.lags.push({ event_type: eventType, ms: lagMs });
  }
  readonly oldestStartingAges: number[] = [];
  oldestStartingAge(seconds: number): void {
    this.oldestStartingAges.push(seconds);
  }
}

export interface LogLine {
  level: 'info' | 'warn' | 'error';
  message: string;
  extra: Record<string, unknown>;
}

export class RecordingLog implements Log {
  readonly lines: LogLine[] = [];
  info(message: string, extra: Record<string, unknown>): void {
    this.lines.push({ level: 'info', message, extra });
  }
  warn(message: string, extra: Record<string, unknown>): void {
    this.lines.push({ level: 'warn', message, extra });
  }
  error(message: string, extra: Record<string, unknown>): void {
    this.lines.push({ level: 'error', message, extra });
  }
  at(level: LogLine['level']): LogLine[] {
    return this.lines.filter((l) => l.level === level);
  }
}

/** A recording log that can be awaited for a line: a latch on what the operation does next. */
export class WaitingLog extends RecordingLog {
  readonly #waiters: { message: string; resolve: (line: LogLine) => void }[] = [];
  override info(message: string, extra: Record<string, unknown>): void {
    super.info(message, extra);
    for (const w of this.#waiters.filter((w) => w.message === message)) w.resolve(this.lines.at(-1) as LogLine);
  }
  waitFor(message: string): Promise<LogLine> {
    return new Promise((resolve) => this.#waiters.push({ message, resolve }));
  }
}
