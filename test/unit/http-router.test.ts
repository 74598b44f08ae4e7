/**
 * The routed edge of the read and admin functions: a defect is a JSON 500
 * internal_error, an unserved route a JSON 404 route_not_found, and the
 * router hands the route its path parameters.
 */
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { DynamoEngineVersionRegistry } from '../../lib/adapters/engine-version-registry.ts';
import { documentClient } from '../../lib/adapters/dynamodb-conditions.ts';
import { jsonAnswer } from '../../lib/http/responses.ts';
import { routedHandler } from '../../lib/http/router.ts';
import { lambdaContext } from '../support/harness.ts';
import { routeEvent } from '../support/http-events.ts';

describe('routedHandler', () => {
  const handler = routedHandler([
    { method: 'GET', path: '/things/{id}', handler: async (event) => jsonAnswer(200, { id: event.pathParameters?.id }) },
    {
      method: 'GET',
      path: '/broken',
      handler: async () => {
        throw new TypeError('a defect');
      },
    },
  ]);

  it('routes by method and path, with the path parameters', async () => {
    const res = await handler(routeEvent('GET', '/things/{id}', { params: { id: 'a' } }), lambdaContext());
    expect(res).toEqual({ statusCode: 200, headers: { 'Content-Type': 'application/json' }, body: '{"id":"a"}' });
  });

  it('answers a defect with a JSON 500 internal_error, no stack, no message of the defect', async () => {
    const res = await handler(routeEvent('GET', '/broken'), lambdaContext());
    expect(res.statusCode).toBe(500);
    expect(JSON.parse(String(res.body))).toEqual({ error: { code: 'internal_error', message: 'internal error' } });
  });

  it('answers a route it does not serve with a JSON 404 route_not_found', async () => {
    for (const event of [routeEvent('POST', '/things/{id}', { params: { id: 'a' } }), routeEvent('GET', '/nothing'), { version: '2.0' }]) {
      const res = await handler(event as never, lambdaContext());
      expect(res.statusCode).toBe(404);
      expect(JSON.parse(String(res.body)).error.code).toBe('route_not_found');
    }
  });

  it('answers a path with an empty segment with route_not_found, not the route without it', async () => {
    const list = routedHandler([{ method: 'GET', path: '/things', handler: async () => jsonAnswer(200, { things: [] }) }]);
    for (const path of ['/things/', '//things', '/things//']) {
      const event = routeEvent('GET', '/things');
      const res = await list({ ...event, rawPath: path, requestContext: { ...event.requestContext, http: { ...event.requestContext.http, path } } }, lambdaContext());
      expect(res.statusCode, path).toBe(404);
      expect(JSON.parse(String(res.body)).error.code).toBe('route_not_found');
    }
    expect((await list(routeEvent('GET', '/things'), lambdaContext())).statusCode).toBe(200);
  });
});

describe('DynamoEngineVersionRegistry.create', () => {
  it('reads the stored item when a refused Put does not carry it', async () => {
    // Loopback endpoint: should the mock ever miss, nothing leaves the machine.
    const doc = documentClient(new DynamoDBClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', maxAttempts: 1 }));
    const sdk = mockClient(DynamoDBDocumentClient);
    sdk.on(PutCommand).rejects(new ConditionalCheckFailedException({ message: 'refused', $metadata: {} }));
    sdk.on(GetCommand).resolves({ Item: { version: '1.0', image_ref: 'img:old', created_at: '2026-01-01T00:00:00.000Z' } });
    const registry = new DynamoEngineVersionRegistry(doc, 'versions');
    const result = await registry.create({ version: '1.0', image_ref: 'img:new', created_at: '2026-12-03T08:00:00.000Z' });
    expect(result).toEqual({ created: false, existing: { version: '1.0', image_ref: 'img:old', created_at: '2026-01-01T00:00:00.000Z' } });
    expect(sdk.commandCalls(GetCommand)[0]?.args[0].input.ConsistentRead).toBe(true);
  });
});
