/**
 * POST /internal/v1/runtimes (API Gateway HTTP API, payload 2.0).
 * Adapts the HTTP event to the use case and its outcome to the answer;
 * it never touches a table. Configuration and clients are built once, at
 * cold start: a missing variable fails the cold start, naming it.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { DEADLINE_GUARD_MS, loadConfig } from '../../lib/config.ts';
import { header, sourceRef } from '../../lib/http/request.ts';
import { errorAnswer, type HttpAnswer, outcomeAnswer } from '../../lib/http/responses.ts';
import { logger } from '../../lib/powertools.ts';
import type { RegisterCall } from '../../lib/register-runtime/register-runtime.ts';
import { buildRegistration } from '../../lib/wiring.ts';

/** The deployed function's timeout: the deadline assumed when a caller passes no Lambda context. */
const FALLBACK_TIMEOUT_MS = 28_000;

/** Time left before the Lambda deadline, also when invoked without a real context (local harnesses). */
function remainingTime(context: Context | undefined): () => number {
  if (typeof context?.getRemainingTimeInMillis === 'function') return () => context.getRemainingTimeInMillis();
  const deadline = Date.now() + FALLBACK_TIMEOUT_MS;
  return () => deadline - Date.now();
}

/** Resolves after `ms` (at once when none is left); the timer never holds the process. */
function timeUp(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)).unref());
}

function toCall(event: APIGatewayProxyEventV2, context: Context | undefined): RegisterCall {
  return {
    body: event.body,
    isBase64Encoded: event.isBase64Encoded === true,
    opSource: 'lobby_internal',
    sourceRef: sourceRef(event, context),
    remainingTimeMs: remainingTime(context),
  };
}

/**
 * The handler around a registration (exported for tests that need another
 * deadline guard than the deployed one).
 */
export function registerRuntimeHandler(
  { safeRetries, useCase }: Pick<ReturnType<typeof buildRegistration>, 'safeRetries' | 'useCase'>,
  options: { deadlineGuardMs: number } = { deadlineGuardMs: DEADLINE_GUARD_MS },
) {
  // The call of each invocation, for onError: it must audit that very
  // operation (whose op_id and state the use case keeps by call).
  const calls = new WeakMap<APIGatewayProxyEventV2, RegisterCall>();

  async function registerRuntime(event: APIGatewayProxyEventV2, context: Context | undefined): Promise<HttpAnswer> {
    const call = toCall(event, context);
    calls.set(event, call);
    return safeRetries.handle(call, header(event, 'idempotency-key'));
  }

  return middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Error, Context>({
    // The deadline guard fires this long before the Lambda deadline: time
    // for onError to write the failure entry before the environment stops.
    timeoutEarlyInMillis: options.deadlineGuardMs,
  })
    .use(injectLambdaContext(logger))
    .use({
      // Only a defect that escaped, or Middy's deadline guard answering for a
      // call still running, gets here; still a JSON answer with a stable code,
      // and the failure audited (entry, metric, warning line) through the use
      // case, which never audits one operation twice.
      onError: async (request) => {
        const timedOut = request.error?.name === 'TimeoutError';
        if (!timedOut) logger.error('unhandled error', { error: request.error });
        const [code, message] = timedOut
          ? (['service_unavailable', 'register runtime: did not finish before the function deadline'] as const)
          : (['internal_error', 'internal error'] as const);
        // The failure answer, or the registration's 201 when its commit
        // turned out to have landed (it stands: nothing is audited as failed).
        let call: RegisterCall;
        try {
          // Built in here too: an event whose fields cannot be read is a defect like any other.
          call = calls.get(request.event) ?? toCall(request.event, request.context);
          request.response = outcomeAnswer(await useCase.abandon(call, code, message));
        } catch (err) {
          logger.error('auditing an unhandled failure failed', { error: err });
          request.response = errorAnswer(code, message);
          return;
        }
        // A keyed call's remembered answer goes under its key before it
        // leaves (the environment may freeze once it has), within what is
        // left of the guard's time.
        await Promise.race([safeRetries.rememberOuterAnswer(call, request.response as HttpAnswer), timeUp(call.remainingTimeMs() - 50)]);
      },
    })
    .handler(registerRuntime);
}

export const handler = registerRuntimeHandler(buildRegistration(loadConfig()));
