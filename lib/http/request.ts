/**
 * What every HTTP function reads of an API Gateway (payload 2.0) event the
 * same way: headers by name, whatever case the caller (or a local
 * emulator) used, and who sent the request.
 */
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';

/** Header lookup that does not depend on the case the caller (or a local emulator) used. */
export function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === name) return value;
  }
  return undefined;
}

/**
 * serverless-offline (`npm run dev`) gives every request the same constant
 * in place of API Gateway's request id (`offlineContext_resourceId`, and
 * `offlineContext_…` placeholders elsewhere in its request context): not an
 * id of the request. API Gateway's own ids never take that form.
 */
const OFFLINE_PLACEHOLDER_PREFIX = 'offlineContext_';

/**
 * Who sent the request: X-Request-Id, else API Gateway's request id, else
 * the Lambda's (under serverless-offline, whose request id is a constant
 * placeholder, the invocation's own id).
 */
export function sourceRef(event: APIGatewayProxyEventV2, context: Context | undefined): string {
  const apiRequestId = event.requestContext?.requestId;
  const requestId = apiRequestId?.startsWith(OFFLINE_PLACEHOLDER_PREFIX) ? undefined : apiRequestId;
  return header(event, 'x-request-id') || requestId || context?.awsRequestId || '';
}
