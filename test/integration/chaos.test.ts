/**
 * The chaos test's short, fixed-seed form (issue 16, item 5; the long form
 * is `npm run chaos -- --registrations 2000`, see docs/development.md, "Chaos test"): 150
 * registrations under combined faults (DynamoDB errors, throttles, answers
 * lost after the write landed, brownouts after a commit; engine failures,
 * slowness and wrong rosters; tight deadlines; keyed, retried and parallel
 * calls; relay rounds refused or failed; reconciler ticks), each checked
 * against what its answers promised. The table is printed whatever the
 * outcome; a broken promise fails the test, naming the registration and its
 * plan (replay it with `npm run chaos -- --seed 20261205 --only N`).
 */
import { describe, expect, inject, it, vi } from 'vitest';
import { check, checkRegistration, UNKNOWN_OUTCOME } from '../support/chaos/checker.ts';
import { planRegistration } from '../support/chaos/plan.ts';
import { report } from '../support/chaos/report.ts';
import { type CallObservation, type GameState, runChaos } from '../support/chaos/runner.ts';
import type { ReceivedEntry } from '../support/eventbridge-server.ts';

const SEED = 20261205;
const REGISTRATIONS = 150;

describe('chaos: registrations under combined faults keep what their answers promised', () => {
  it(`seed ${SEED}, ${REGISTRATIONS} registrations: no broken promise`, { timeout: 180_000 }, async () => {
    // Act: each execution environment is a fresh import of the handler (a cold start).
    const run = await runChaos({
      seed: SEED,
      registrations: REGISTRATIONS,
      lanes: 12,
      dynamoEndpoint: inject('dynamoEndpoint'),
      importFresh: async (path) => {
        vi.resetModules();
        return import(path);
      },
    });

    // Assess
    const broken = check(run);
    console.log(report(run, broken));
    expect(run.registrations).toHaveLength(REGISTRATIONS);
    expect(broken.map((b) => `#${b.registration.plan.index} ${b.promise}: ${b.detail}`)).toEqual([]);
  });
});

/**
 * The checker on made-up observations: it passes registrations that kept
 * their promises (so the run above can pass once the code does) and names
 * each promise broken.
 */
describe('chaos checker', () => {
  const members = 2;
  const plan = { ...planRegistration(1, 0), gameId: 'g-x', members };
  const OP = '2026-12-05T10:00:00.000Z#op1';
  const whole = (): GameState => ({
    record: { game_id: 'g-x', status: 'running', op_id: OP },
    mappings: [
      { game_id: 'g-x', user_id: 'u-1', op_id: OP },
      { game_id: 'g-x', user_id: 'u-2', op_id: OP },
    ],
    outbox: [{ event_id: OP, game_id: 'g-x' }],
    log: [{ game_id: 'g-x', op_id: OP, op_source: 'lobby_internal', source_ref: 'g-x.c1', outcome: 'success' }],
    events: [event(OP, true)],
  });
  const empty = (log: Record<string, unknown>[] = []): GameState => ({ mappings: [], outbox: [], log, events: [] });
  function event(opId: string, accepted: boolean): ReceivedEntry {
    return { detail: { event_id: opId, game_id: 'g-x' }, accepted, mode: 'ok', raw: {} };
  }
  function call(status: number, body: unknown, o: Partial<CallObservation> = {}): CallObservation {
    const code = (body as { error?: { code?: string } }).error?.code;
    const metric = status === 201 ? { outcome: 'success', error_code: 'none' } : { outcome: 'failure', error_code: code ?? '' };
    return {
      id: 'g-x.c1', role: 'first', env: 'lane0a', deadlineMs: 28_000, startedAt: 0, answeredAt: 10, status, body,
      rawBody: JSON.stringify(body), headers: {}, metrics: [{ name: 'register_runtime_outcomes', dimensions: metric }], logs: [], ...o,
    };
  }
  const created = { game_id: 'g-x', status: 'running' };
  const failure = (code: string, message = 'x') => ({ error: { code, message } });
  const failureEntry = (code: string) => ({ game_id: 'g-x', op_id: OP, op_source: 'lobby_internal', source_ref: 'g-x.c1', outcome: 'failure', error_code: code });
  const judge = (calls: CallObservation[], state: GameState) =>
    checkRegistration({ plan, lane: 0, calls, faults: [], unplannedTimeouts: 0, state }).map((b) => b.promise);

  it('passes a 201 that is whole, a failure that left nothing, and an unknown outcome settled either way', () => {
    expect(judge([call(201, created)], whole())).toEqual([]);
    expect(judge([call(502, failure('engine_unreachable'))], empty([failureEntry('engine_unreachable')]))).toEqual([]);
    const unknown = call(503, failure('service_unavailable', `register runtime: ${UNKNOWN_OUTCOME}; GET ...`));
    expect(judge([unknown], whole())).toEqual([]);
    expect(judge([unknown], empty())).toEqual([]);
    const replay = call(201, created, { id: 'g-x.c2', role: 'retry', key: 'k', headers: { 'idempotent-replayed': 'true' }, metrics: [] });
    expect(judge([call(201, created, { key: 'k' }), replay], whole())).toEqual([]);
  });

  it('names each broken promise', () => {
    expect(judge([call(201, created)], empty())).toContain('201-whole');
    expect(judge([call(201, created)], { ...whole(), events: [] })).toContain('201-whole');
    expect(judge([call(503, failure('service_unavailable'))], whole())).toContain('failure-leaves-nothing');
    expect(judge([call(503, failure('service_unavailable'))], { ...empty([failureEntry('service_unavailable')]), events: [event(OP, true)] })).toEqual(
      expect.arrayContaining(['failure-leaves-nothing', 'no-event-unless-running']),
    );
    expect(judge([call(503, failure('service_unavailable', UNKNOWN_OUTCOME))], { ...whole(), record: { status: 'starting', op_id: OP } })).toContain(
      'whole-or-nothing',
    );
    const twoMetrics = call(201, created);
    twoMetrics.metrics.push({ name: 'register_runtime_outcomes', dimensions: { outcome: 'failure', error_code: 'service_unavailable' } });
    expect(judge([twoMetrics], whole())).toEqual(['one-outcome-metric']);
    const otherCode = call(503, failure('service_unavailable'));
    otherCode.metrics = [{ name: 'register_runtime_outcomes', dimensions: { outcome: 'failure', error_code: 'engine_unreachable' } }];
    expect(judge([otherCode], empty([failureEntry('engine_unreachable')]))).toEqual(['metric-matches-answer']);
    expect(judge([call(500, failure('internal_error'))], empty([failureEntry('internal_error')]))).toContain('no-500');
    expect(judge([call(503, failure('service_unavailable'))], empty([failureEntry('service_unavailable'), { ...failureEntry('service_unavailable'), op_id: 'op2' }]))).toContain(
      'one-audit-per-operation',
    );
    const lyingReplay = call(201, created, { id: 'g-x.c2', key: 'k', headers: { 'idempotent-replayed': 'true' }, metrics: [] });
    expect(judge([call(503, failure('service_unavailable'), { key: 'k' }), lyingReplay], whole())).toContain('replay-matches');
  });
});
