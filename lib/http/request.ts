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

/** Who sent the request: X-Request-Id, else API Gateway's request id, else the Lambda's. */
export function sourceRef(event: APIGatewayProxyEventV2, context: Context | undefined): string {
  return header(event, 'x-request-id') || event.requestContext?.requestId || context?.awsRequestId || '';
}
