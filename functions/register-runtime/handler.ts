/**
 * POST /internal/v1/runtimes (API Gateway HTTP API, payload 2.0).
 * Adapts the HTTP event to the use case and its outcome to the answer;
 * it never touches a table. Configuration and clients are built once, at
 * cold start: a missing variable fails the cold start, naming it.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { loadConfig } from '../../lib/config.ts';
import { errorAnswer, type HttpAnswer } from '../../lib/http/responses.ts';
import { logger } from '../../lib/powertools.ts';
import type { RegisterCall } from '../../lib/register-runtime/register-runtime.ts';
import { buildRegistration } from '../../lib/wiring.ts';

const { safeRetries, telemetry } = buildRegistration(loadConfig());

/** Header lookup that does not depend on the case the caller (or a local emulator) used. */
function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  const headers = event.headers ?? {};
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return value;
  }
  return undefined;
}

/** The deployed function's timeout: the deadline assumed when a caller passes no Lambda context. */
const FALLBACK_TIMEOUT_MS = 28_000;

/** Time left before the Lambda deadline, also when invoked without a real context (local harnesses). */
function remainingTime(context: Context | undefined): () => number {
  if (typeof context?.getRemainingTimeInMillis === 'function') return () => context.getRemainingTimeInMillis();
  const deadline = Date.now() + FALLBACK_TIMEOUT_MS;
  return () => deadline - Date.now();
}

async function registerRuntime(event: APIGatewayProxyEventV2, context: Context | undefined): Promise<HttpAnswer> {
  const call: RegisterCall = {
    body: event.body,
    isBase64Encoded: event.isBase64Encoded === true,
    opSource: 'lobby_internal',
    sourceRef: header(event, 'x-request-id') || event.requestContext?.requestId || context?.awsRequestId || '',
    remainingTimeMs: remainingTime(context),
  };
  return safeRetries.handle(call, header(event, 'idempotency-key'));
}

export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Error, Context>()
  .use(injectLambdaContext(logger))
  .use({
    // Only a defect, or Middy giving up just before the Lambda deadline, gets
    // here; still a JSON answer with a stable code.
    onError: async (request) => {
      logger.error('unhandled error', { error: request.error });
      const timedOut = request.error?.name === 'TimeoutError';
      // Counted like every other outcome, so that defects can alarm.
      telemetry.registerOutcome('failure', timedOut ? 'service_unavailable' : 'internal_error');
      request.response = timedOut
        ? errorAnswer('service_unavailable', 'register runtime: did not finish before the function deadline')
        : errorAnswer('internal_error', 'internal error');
    },
  })
  .handler(registerRuntime);
