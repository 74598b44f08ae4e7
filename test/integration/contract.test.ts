/**
 * The published contract against the running code: the record fields the
 * document promises are exactly those the register route answers, and the
 * guards that route every answer and every published Detail through the
 * document (coldStart, the EventBridge double) do fail on a violation.
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/local-stack.ts';
import { answeredByApiGateway, contract, operations, resolve, takeViolations } from '../support/contract.ts';
import { apiEvent, lambdaContext, registerBody } from '../support/harness.ts';
import { RUNTIME_ROUTE, routeEvent, VERSION_ROUTE } from '../support/http-events.ts';
import { coldStart, type Handler, parse, type Stack, startStack } from '../support/stack.ts';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});

afterAll(async () => {
  await stack?.close();
});

const documentedRecordFields = () => {
  const schemas = (contract().doc.components as Record<string, any>).schemas;
  return { properties: Object.keys(schemas.RuntimeRecordFields.properties).sort(), required: [...schemas.RuntimeRecordFields.required].sort() };
};

describe('Contract: docs/openapi.yaml against the code', () => {
  it('the runtime record fields of the document are exactly the keys the register route answers, all required', async () => {
    // Prepare
    const handler = await coldStart('../../functions/register-runtime/handler.ts');

    // Act
    const res = parse(await handler(apiEvent(registerBody('g-contract-1', stack.engine.url)), lambdaContext()));

    // Assess
    expect(res.status).toBe(201);
    const documented = documentedRecordFields();
    expect(Object.keys(res.body).sort()).toEqual(documented.properties);
    expect(documented.required).toEqual(documented.properties);
  });

  it('a cold-started handler whose answer the document does not describe is rejected and the violation recorded', async () => {
    // Prepare
    const handler = await coldStart<Handler>('../support/fixtures/echo-answer-handler.ts');
    const undocumented = { statusCode: 201, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ game_id: 'g-1' }) };

    // Act
    const call = handler(apiEvent(undocumented), lambdaContext());

    // Assess
    await expect(call).rejects.toThrow(/does not match docs\/openapi.yaml/);
    const violations = takeViolations();
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatch(/must have required property 'status'/);
  });

  it('a conforming answer of the same stand-in passes unchanged (route_not_found for a path no route serves)', async () => {
    // An unrouted path, so that the stand-in's answer does not count as coverage of a real route.
    const handler = await coldStart<Handler>('../support/fixtures/echo-answer-handler.ts');
    const answer = {
      statusCode: 404,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ error: { code: 'route_not_found', message: 'no route serves POST /internal/v1/nowhere' } }),
    };

    await expect(handler({ ...apiEvent(answer), rawPath: '/internal/v1/nowhere' }, lambdaContext())).resolves.toEqual(answer);
    expect(takeViolations()).toEqual([]);
  });

  it('a runtime_snapshot_update Detail outside the event schema, received by the EventBridge double, is recorded as a violation', async () => {
    // Prepare
    const client = new EventBridgeClient({ endpoint: stack.events.url, maxAttempts: 1 });
    const detail = { event_id: '2026-11-24T10:00:00.000Z#00', game_id: 'g-1', current_turn: -1, surprise: true };

    // Act
    await client.send(
      new PutEventsCommand({
        Entries: [{ Source: 'galaxy.gamemaster', DetailType: 'runtime_snapshot_update', Detail: JSON.stringify(detail), EventBusName: 'b' }],
      }),
    );

    // Assess
    const violations = takeViolations();
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatch(/current_turn must be >= 0/);
    expect(violations[0]).toMatch(/surprise/);
    expect(violations[0]).toMatch(/runtime_status/);
  });
});

/** Every error example of the document (API Gateway's own answers aside), as `code` and `message`, with where it is. */
function errorExamples(): { where: string; code: string; message: string }[] {
  const out: { where: string; code: string; message: string }[] = [];
  for (const op of operations()) {
    for (const [status, raw] of Object.entries(op.operation.responses as Record<string, any>)) {
      const response = resolve(raw) as Record<string, any>;
      if (answeredByApiGateway(response)) continue;
      for (const [name, example] of Object.entries((response.content?.['application/json']?.examples ?? {}) as Record<string, any>)) {
        const error = example.value?.error;
        if (error) out.push({ where: `${op.method} ${op.template} ${status} (example ${name})`, code: error.code, message: error.message });
      }
    }
  }
  return out;
}

/** An event whose body, path and query parameters throw when read or written: a defect inside the handler. */
function defectiveEvent(event: APIGatewayProxyEventV2): APIGatewayProxyEventV2 {
  const boom = () => {
    throw new Error('a defect');
  };
  for (const name of ['body', 'pathParameters', 'queryStringParameters']) {
    Object.defineProperty(event, name, { get: boom, set: boom, enumerable: true, configurable: true });
  }
  return event;
}

describe('Contract: the example messages of docs/openapi.yaml are messages the code sends', () => {
  let gameCounter = 0;
  const newGame = () => `g-example-${++gameCounter}`;

  /**
   * For each error code, requests that make the real handlers answer it.
   * Every example message of that code must be the message of one of them,
   * exactly: an example the code cannot produce fails here.
   */
  async function producedMessages(code: string): Promise<string[]> {
    const register = await coldStart('../../functions/register-runtime/handler.ts');
    const read = await coldStart('../../functions/read-runtime/handler.ts');
    const versions = await coldStart('../../functions/engine-versions/handler.ts');
    const post = (body: unknown, headers: Record<string, string> = {}) => register(apiEvent(body, { headers }), lambdaContext());
    const url = stack.engine.url;
    const answers: (() => Promise<Awaited<ReturnType<Handler>>>)[] = [];
    switch (code) {
      case 'invalid_request':
        answers.push(() => post({ ...registerBody(newGame(), url), game_id: ' ' }));
        answers.push(() => read(routeEvent('GET', RUNTIME_ROUTE, { params: { game_id: '-not-an-id' } }), lambdaContext()));
        break;
      case 'engine_version_not_found':
        answers.push(() => post(registerBody(newGame(), url, { version: '9.9.9' })));
        answers.push(() => versions(routeEvent('GET', VERSION_ROUTE, { params: { version: '9.9.9' } }), lambdaContext()));
        break;
      case 'runtime_not_found':
        answers.push(() => read(routeEvent('GET', RUNTIME_ROUTE, { params: { game_id: 'g-1' } }), lambdaContext()));
        break;
      case 'engine_version_exists':
        answers.push(() =>
          versions(routeEvent('PUT', VERSION_ROUTE, { params: { version: '1.4.2' }, body: JSON.stringify({ image_ref: 'registry.local/other:1' }) }), lambdaContext()),
        );
        break;
      case 'conflict':
        answers.push(async () => {
          const body = registerBody(newGame(), url);
          expect(parse(await post(body)).status).toBe(201);
          return post(body);
        });
        break;
      case 'request_in_progress':
        answers.push(async () => {
          const body = registerBody(newGame(), url);
          const key = `k-${newGame()}`;
          const latch = stack.engine.holdNext();
          const first = post(body, { 'Idempotency-Key': key });
          await latch.arrived;
          const second = await post(body, { 'Idempotency-Key': key });
          latch.release();
          await first;
          return second;
        });
        break;
      case 'idempotency_key_reused':
        answers.push(async () => {
          const key = `k-${newGame()}`;
          await post(registerBody(newGame(), url), { 'Idempotency-Key': key });
          return post(registerBody(newGame(), url), { 'Idempotency-Key': key });
        });
        break;
      case 'engine_unreachable':
        answers.push(() => post(registerBody(newGame(), `${url}/status-503`)));
        break;
      case 'engine_validation_error':
        answers.push(() => post(registerBody(newGame(), `${url}/status-422`)));
        break;
      case 'engine_protocol_violation':
        // Two members, the engine answers one player.
        answers.push(() => post(registerBody(newGame(), `${url}/wrong-roster`, { members: 2 })));
        break;
      case 'internal_error':
        answers.push(() => register(defectiveEvent(apiEvent(registerBody(newGame(), url))), lambdaContext()));
        answers.push(() => read(defectiveEvent(routeEvent('GET', RUNTIME_ROUTE, { params: { game_id: 'g-1' } })), lambdaContext()));
        break;
      case 'service_unavailable':
        answers.push(async () => {
          // A read function whose DynamoDB endpoint is a closed loopback port.
          const endpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB;
          process.env.AWS_ENDPOINT_URL_DYNAMODB = `http://127.0.0.1:${await freePort()}`;
          try {
            const cut = await coldStart('../../functions/read-runtime/handler.ts');
            return await cut(routeEvent('GET', RUNTIME_ROUTE, { params: { game_id: 'g-1' } }), lambdaContext());
          } finally {
            process.env.AWS_ENDPOINT_URL_DYNAMODB = endpoint;
          }
        });
        break;
    }
    const messages: string[] = [];
    for (const answer of answers) {
      const res = parse(await answer());
      expect(res.body.error?.code, JSON.stringify(res.body)).toBe(code);
      messages.push(res.body.error.message);
    }
    return messages;
  }

  const byCode = new Map<string, { where: string; message: string }[]>();
  for (const { where, code, message } of errorExamples()) byCode.set(code, [...(byCode.get(code) ?? []), { where, message }]);

  it('the document has error examples to check, of every code a route answers', () => {
    expect([...byCode.keys()].sort()).toEqual(
      [
        'conflict',
        'engine_protocol_violation',
        'engine_unreachable',
        'engine_validation_error',
        'engine_version_exists',
        'engine_version_not_found',
        'idempotency_key_reused',
        'internal_error',
        'invalid_request',
        'request_in_progress',
        'runtime_not_found',
        'service_unavailable',
      ].sort(),
    );
  });

  it.each([...byCode.keys()].sort())('%s: every example message is one the code sends', async (code) => {
    const produced = await producedMessages(code);
    expect(produced.length, `no request in this test produces ${code}: add one`).toBeGreaterThan(0);
    for (const { where, message } of byCode.get(code)!) expect(produced, `${where}: "${message}"`).toContain(message);
  });
});
