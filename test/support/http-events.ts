/**
 * API Gateway HTTP API (payload 2.0) events for the read and admin routes,
 * shaped like the ones API Gateway hands over: routeKey with the template,
 * rawPath and requestContext.http.path with the values filled in,
 * pathParameters and queryStringParameters (null when there are none).
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';

let counter = 0;

export interface RouteEventOptions {
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: string;
  isBase64Encoded?: boolean;
  headers?: Record<string, string>;
}

/** `routeEvent('GET', '/internal/v1/runtimes/{game_id}', { params: { game_id: 'g-1' } })`. */
export function routeEvent(method: string, template: string, options: RouteEventOptions = {}): APIGatewayProxyEventV2 {
  const params = options.params ?? {};
  const path = template.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent((params[name] ?? '').toWellFormed()));
  const query = options.query;
  const rawQueryString = query ? new URLSearchParams(query).toString() : '';
  const requestId = `req-rt-${++counter}-${Date.now()}`;
  const routeKey = `${method} ${template}`;
  return {
    version: '2.0',
    routeKey,
    rawPath: path,
    rawQueryString,
    headers: { ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}), ...(options.headers ?? {}) },
    ...(Object.keys(params).length > 0 ? { pathParameters: params } : {}),
    ...(query ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId,
      routeKey,
      stage: '$default',
      time: '03/Dec/2026:08:00:00 +0000',
      timeEpoch: Date.now(),
    },
    ...(options.body !== undefined ? { body: options.body } : {}),
    isBase64Encoded: options.isBase64Encoded ?? false,
  } as APIGatewayProxyEventV2;
}

export const RUNTIME_ROUTE = '/internal/v1/runtimes/{game_id}';
export const OPERATIONS_ROUTE = '/internal/v1/runtimes/{game_id}/operations';
export const VERSION_ROUTE = '/internal/v1/engine-versions/{version}';
export const VERSIONS_ROUTE = '/internal/v1/engine-versions';
export const STARTING_LIST_ROUTE = '/internal/v1/runtimes';

/** Every route of the spec, as API Gateway route keys: what the template deploys and the document describes. */
export const SPEC_ROUTE_KEYS = [
  'POST /internal/v1/runtimes',
  `GET ${RUNTIME_ROUTE}`,
  `GET ${OPERATIONS_ROUTE}`,
  `GET ${STARTING_LIST_ROUTE}`,
  `PUT ${VERSION_ROUTE}`,
  `GET ${VERSION_ROUTE}`,
  `GET ${VERSIONS_ROUTE}`,
] as const;
