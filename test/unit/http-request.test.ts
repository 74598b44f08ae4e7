/**
 * Who sent a request (`source_ref` of the operation log): X-Request-Id, else
 * API Gateway's request id, else the invocation's own id; never
 * serverless-offline's constant placeholder (`npm run dev`).
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { sourceRef } from '../../lib/http/request.ts';
import { lambdaContext } from '../support/harness.ts';
import { routeEvent } from '../support/http-events.ts';

const context = { ...lambdaContext(), awsRequestId: '4db6a64c-8389-4643-9792-df0b069114d5' };

function withRequestId(requestId: string | undefined, headers: Record<string, string> = {}): APIGatewayProxyEventV2 {
  const event = routeEvent('POST', '/internal/v1/runtimes', { body: '{}', headers });
  return { ...event, requestContext: { ...event.requestContext, requestId } } as APIGatewayProxyEventV2;
}

describe('sourceRef', () => {
  it("is the caller's X-Request-Id, whatever the header's case", () => {
    expect(sourceRef(withRequestId('Ab3dEfGhIjKlMnO=', { 'X-Request-Id': 'lobby-req-1' }), context)).toBe('lobby-req-1');
    expect(sourceRef(withRequestId('offlineContext_resourceId', { 'x-request-id': 'lobby-req-1' }), context)).toBe('lobby-req-1');
  });

  it("is API Gateway's request id without an X-Request-Id", () => {
    expect(sourceRef(withRequestId('Ab3dEfGhIjKlMnO='), context)).toBe('Ab3dEfGhIjKlMnO=');
  });

  it("is the invocation's own id under serverless-offline, whose request id is the same placeholder for every request", () => {
    expect(sourceRef(withRequestId('offlineContext_resourceId'), context)).toBe(context.awsRequestId);
    const other = { ...context, awsRequestId: 'f285d418-219d-4ed1-a979-e683bbb52f74' };
    expect(sourceRef(withRequestId('offlineContext_resourceId'), other)).toBe(other.awsRequestId);
  });

  it("is the invocation's id when the event has no request id, and empty when nothing names the request", () => {
    expect(sourceRef(withRequestId(undefined), context)).toBe(context.awsRequestId);
    expect(sourceRef(withRequestId(undefined), undefined)).toBe('');
  });
});
