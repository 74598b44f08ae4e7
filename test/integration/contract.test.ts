/**
 * The published contract against the running code: the record fields the
 * document promises are exactly those the register route answers, and the
 * guards that route every answer and every published Detail through the
 * document (coldStart, the EventBridge double) do fail on a violation.
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contract, takeViolations } from '../support/contract.ts';
import { apiEvent, lambdaContext, registerBody } from '../support/harness.ts';
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
