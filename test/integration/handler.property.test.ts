/**
 * Hostile input: thousands of generated bodies thrown at the deployed
 * handler on DynamoDB Local. Whatever comes in: never a 500, a 5xx only
 * with a stable engine_* or service_unavailable code, always a JSON body
 * with a stable code; an invalid request leaves no runtime record or
 * mapping, and exactly one operation-log entry.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_STATUS } from '../../lib/http/errors.ts';
import { usableGameId } from '../../lib/register-runtime/validation.ts';
import { apiEvent, lambdaContext } from '../support/harness.ts';
import { coldStart, type Handler, type Stack, startStack } from '../support/stack.ts';

let stack: Stack;
let handler: Handler;

beforeAll(async () => {
  stack = await startStack();
  handler = await coldStart('../../functions/register-runtime/handler.ts');
});

afterAll(async () => {
  await stack?.close();
});

const STABLE_5XX = new Set(['engine_validation_error', 'engine_protocol_violation', 'engine_unreachable', 'service_unavailable']);
const KNOWN_CODES = new Set(Object.keys(ERROR_STATUS));

const hostileKey = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '');
const weird = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.constant('x'.repeat(5000)),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.oneof(fc.string(), hostileKey), fc.string(), { maxKeys: 3 }),
);

/** A body one step from valid: each field kept, dropped, or replaced by something odd. */
function nearValid(engineUrl: string) {
  const field = <T>(good: fc.Arbitrary<T>) => fc.oneof({ weight: 3, arbitrary: good }, { weight: 1, arbitrary: weird }, { weight: 1, arbitrary: fc.constant(undefined) });
  const member = fc.record({
    user_id: field(fc.stringMatching(/^[a-z0-9][a-z0-9._:@-]{0,20}$/)),
    race_name: field(fc.string({ minLength: 1, maxLength: 70 })),
  });
  return fc
    .record({
      game_id: field(fc.stringMatching(/^g-prop-[a-z0-9]{1,12}$/)),
      engine_endpoint: field(fc.constantFrom(engineUrl, 'http://galaxy-game-1:8080', 'ftp://x', 'http://user:pw@127.0.0.1/', `${engineUrl}?q=1`)),
      members: field(fc.array(fc.oneof(member, weird), { maxLength: 6 })),
      target_engine_version: field(fc.constantFrom('1.4.2', '9.9.9', '1.4.2 ', '')),
      turn_schedule: field(fc.constantFrom('0 */6 * * *', '@daily', '* * * *', '0 0 30 2 *', '*/0 * * * *')),
      extra: fc.option(weird),
    })
    .chain((body) =>
      fc.tuple(fc.constant(body), fc.option(fc.tuple(hostileKey, weird))).map(([b, hostile]) => {
        const out: Record<string, unknown> = JSON.parse(JSON.stringify(b));
        if (hostile) Object.defineProperty(out, hostile[0], { value: hostile[1], enumerable: true, configurable: true, writable: true });
        return out;
      }),
    );
}

describe('Function: registerRuntime under generated input', () => {
  it('answers every body with a stable JSON error or a registration, never a 500, and leaves no half-written rows', async () => {
    const bodies = fc.oneof(
      { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
      { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
      { weight: 4, arbitrary: nearValid(stack.engine.url).map((b) => JSON.stringify(b)) },
    );
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(bodies, async (raw) => {
        runs++;
        let parsedBody: unknown;
        try {
          parsedBody = JSON.parse(raw);
        } catch {
          parsedBody = undefined;
        }
        const partition = usableGameId(parsedBody) ?? '_unidentified';
        const logBefore = (await stack.tables.query('operationLog', partition)).length;

        const result = await handler(apiEvent(raw, { raw: true }), lambdaContext());

        const status = result.statusCode ?? 0;
        expect(status).not.toBe(500);
        expect(result.headers).toEqual(expect.objectContaining({ 'Content-Type': 'application/json' }));
        const body = JSON.parse(String(result.body));
        if (status === 201) {
          expect(body.status).toBe('running');
          return;
        }
        expect(KNOWN_CODES.has(body.error.code)).toBe(true);
        expect(typeof body.error.message).toBe('string');
        expect(body.error.message.length).toBeGreaterThan(0);
        expect(ERROR_STATUS[body.error.code as keyof typeof ERROR_STATUS]).toBe(status);
        if (status >= 500) expect(STABLE_5XX.has(body.error.code)).toBe(true);
        const logAfter = await stack.tables.query('operationLog', partition);
        // Every failure is audited exactly once.
        expect(logAfter.length).toBe(logBefore + 1);
        // A failure leaves no record and no mapping of its own (a 409 met someone else's).
        const gameId = (parsedBody as { game_id?: unknown } | null)?.game_id;
        if (body.error.code !== 'conflict' && typeof gameId === 'string' && gameId.length > 0 && Buffer.byteLength(gameId) <= 1024) {
          const record = await stack.tables.doc.send(new GetCommand({ TableName: stack.tables.names.runtimeRecords, Key: { game_id: gameId } }));
          expect(record.Item).toBeUndefined();
          expect(await stack.tables.query('playerMappings', gameId)).toEqual([]);
        }
      }),
      { numRuns: 2000, seed: Number(process.env.FC_SEED ?? Date.now() % 2 ** 31) },
    );
    expect(runs).toBeGreaterThanOrEqual(2000);
  }, 600_000);
});
