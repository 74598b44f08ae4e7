/**
 * Failures caught outside the use case's own steps, through the real
 * handler on DynamoDB Local: a defect (an adapter that throws a plain
 * Error) and Middy's deadline guard answering for a call still running.
 * Each must leave exactly one operation-log failure entry, one outcome
 * metric and one warning line, and tables clean once the operation has
 * rolled back what it wrote.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../lib/config.ts';
import { captureEmf } from '../support/emf.ts';
import { apiEvent, lambdaContext, registerBody, WaitingLog } from '../support/harness.ts';
import { coldStart, type Handler, parse, type Stack, startStack } from '../support/stack.ts';

let stack: Stack;
let handler: Handler;
let counter = 0;
const newGame = () => `g-unhandled-${++counter}`;
const HANDLER = '../../functions/register-runtime/handler.ts';

beforeAll(async () => {
  stack = await startStack();
  handler = await coldStart(HANDLER);
});

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(async () => {
  await stack?.close();
});

describe('Function: registerRuntime, failures caught outside the steps', () => {
  it('a defect (an adapter throws a plain Error) after the insert: 500 internal_error, rolled back, one audit entry', async () => {
    // Prepare: the handler module's own committer class (same module graph as the cold start).
    const { DynamoRegistrationCommitter } = await import('../../lib/adapters/registration-committer.ts');
    vi.spyOn(DynamoRegistrationCommitter.prototype, 'commit').mockRejectedValueOnce(new TypeError('adapter bug'));
    const gameId = newGame();
    const emf = captureEmf();

    // Act
    const res = parse(await handler(apiEvent(registerBody(gameId, stack.engine.url)), lambdaContext()));
    emf.restore();

    // Assess
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: { code: 'internal_error', message: 'internal error' } });
    const rows = await stack.tables.rowsOf(gameId);
    expect(rows.records).toEqual([]);
    expect(rows.mappings).toEqual([]);
    expect(rows.log).toEqual([expect.objectContaining({ outcome: 'failure', error_code: 'internal_error', error_message: 'internal error' })]);
    expect(emf.metrics().filter((m) => m.name === 'register_runtime_outcomes').map((m) => m.dimensions)).toEqual([
      expect.objectContaining({ outcome: 'failure', error_code: 'internal_error' }),
    ]);
  });

  it('a defect that escapes the use case reaches onError: 500 internal_error, audited once through the use case', async () => {
    const { SafeRetries } = await import('../../lib/http/safe-retries.ts');
    vi.spyOn(SafeRetries.prototype, 'handle').mockRejectedValueOnce(new Error('defect outside the use case'));
    const gameId = newGame();
    const emf = captureEmf();

    const res = parse(await handler(apiEvent(registerBody(gameId, stack.engine.url)), lambdaContext()));
    emf.restore();

    expect(res.status).toBe(500);
    expect(res.body.error.code).toBe('internal_error');
    const rows = await stack.tables.rowsOf(gameId);
    expect(rows.records).toEqual([]);
    expect(rows.log).toEqual([expect.objectContaining({ outcome: 'failure', error_code: 'internal_error', op_source: 'lobby_internal' })]);
    expect(emf.metrics().filter((m) => m.name === 'register_runtime_outcomes')).toHaveLength(1);
  });

  it("the deadline guard answers for a call held in the engine: 503, audited once at once, and the operation's rollback leaves nothing", async () => {
    // Prepare: the handler module's factory with a guard that fires 4 s after
    // the start (25 s left, guard 21 s before the deadline), while the
    // engine holds the call (a latch; its own timeout is 10 s). The guard is
    // Middy's own real-time timer: the race below fails loudly (instead of
    // hanging) should the call not reach the engine within those 4 s.
    const { registerRuntimeHandler } = await import(HANDLER);
    const { buildRegistration } = await import('../../lib/wiring.ts');
    const log = new WaitingLog();
    const guarded = registerRuntimeHandler(buildRegistration(loadConfig(), { log }), { deadlineGuardMs: 21_000 }) as Handler;
    const gameId = newGame();
    const latch = stack.engine.holdNext();
    const emf = captureEmf();

    // Act
    const answer = guarded(apiEvent(registerBody(gameId, stack.engine.url)), lambdaContext(25_000));
    await Promise.race([latch.arrived, answer.then(() => Promise.reject(new Error('answered before the engine was called')))]);
    const res = parse(await answer);
    const atAnswer = await stack.tables.rowsOf(gameId);
    const metricsAtAnswer = emf.metrics();
    const rolledBack = log.waitFor('register runtime rolled back after an outer layer answered for it');
    latch.release();
    await rolledBack;
    emf.restore();

    // Assess: the answer, and the audit written before it.
    expect(res.status).toBe(503);
    expect(res.body).toEqual({
      error: { code: 'service_unavailable', message: 'register runtime: did not finish before the function deadline' },
    });
    expect(atAnswer.records).toEqual([expect.objectContaining({ status: 'starting' })]);
    expect(atAnswer.log).toEqual([
      expect.objectContaining({ outcome: 'failure', error_code: 'service_unavailable', op_id: atAnswer.records[0]?.op_id }),
    ]);
    expect(metricsAtAnswer.filter((m) => m.name === 'register_runtime_outcomes').map((m) => m.dimensions)).toEqual([
      expect.objectContaining({ outcome: 'failure', error_code: 'service_unavailable' }),
    ]);
    // Once the engine answered, the operation wrote nothing more but its rollback.
    const rows = await stack.tables.rowsOf(gameId);
    expect(rows.records).toEqual([]);
    expect(rows.mappings).toEqual([]);
    expect(rows.log).toEqual(atAnswer.log);
    expect(emf.metrics().filter((m) => m.name === 'register_runtime_outcomes')).toHaveLength(1);
    const warnings = log.at('warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.extra).toMatchObject({
      game_id: gameId,
      engine_version: '1.4.2',
      op_source: 'lobby_internal',
      error_code: 'service_unavailable',
      error_message: 'register runtime: did not finish before the function deadline',
    });
  });
});
