/**
 * The HTTP edge of the read and admin functions: the routes of one
 * function behind @middy/http-router, with the Powertools logger's Lambda
 * context, `route_not_found` for an event no route serves, and a JSON
 * answer with a stable code for a defect.
 *
 * In AWS a method or path that no route serves never reaches a function
 * (API Gateway answers it), so route_not_found is for events handed over
 * directly (invoke, tests, a mis-wired integration).
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import httpRouterHandler, { type Method } from '@middy/http-router';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { logger } from '../powertools.ts';
import { header, sourceRef } from './request.ts';
import { errorAnswer, type HttpAnswer } from './responses.ts';

export { header, sourceRef };

export type RouteHandler = (event: APIGatewayProxyEventV2, context: Context | undefined) => Promise<HttpAnswer>;

export interface RouteSpec {
  method: Method;
  path: string;
  handler: RouteHandler;
}

const NOT_FOUND_MESSAGE = 'no route serves this method and path';

/** A path or query parameter as a string (undefined when absent or not a string). */
export function param(values: Record<string, string | undefined> | null | undefined, name: string): string | undefined {
  const value = values?.[name];
  return typeof value === 'string' ? value : undefined;
}

function hasEmptySegment(path: string): boolean {
  return path.length > 1 && (path.endsWith('/') || path.includes('//'));
}

export function routedHandler(routes: readonly RouteSpec[]) {
  const router = httpRouterHandler<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>({
    routes: routes.map((r) => ({ method: r.method, path: r.path, handler: r.handler as never })),
    notFoundResponse: () => errorAnswer('route_not_found', NOT_FOUND_MESSAGE),
  }) as unknown as (event: APIGatewayProxyEventV2, context: Context) => Promise<HttpAnswer>;

  return middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Error, Context>()
    .use(injectLambdaContext(logger))
    .use({
      // Only a defect, or Middy giving up just before the Lambda deadline, gets here.
      onError: async (request) => {
        logger.error('unhandled error', { error: request.error });
        request.response =
          request.error?.name === 'TimeoutError'
            ? errorAnswer('service_unavailable', 'did not finish before the function deadline')
            : errorAnswer('internal_error', 'internal error');
      },
    })
    .handler(async (event, context) => {
      // The router needs a method and a path; an event without them is no route's.
      const http = event?.requestContext?.http;
      if (typeof http?.method !== 'string' || typeof http.path !== 'string') return errorAnswer('route_not_found', NOT_FOUND_MESSAGE);
      // An empty path segment (`/engine-versions/`, `//`) names no route: the
      // router would otherwise take a trailing slash for the route without it.
      if (hasEmptySegment(http.path) || (typeof event.rawPath === 'string' && hasEmptySegment(event.rawPath))) {
        return errorAnswer('route_not_found', NOT_FOUND_MESSAGE);
      }
      return router(event, context);
    });
}
