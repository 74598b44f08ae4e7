/**
 * Store faults at every DynamoDB request of a registration, through the
 * real handler on DynamoDB Local: the handler talks to the store through a
 * fault-injecting proxy (test/support/dynamo-proxy.ts); the tables are
 * seeded and read directly. Every case checks the answer (status, code, a
 * message naming the step and no raw SDK or socket text) and the rows left
 * in runtime records, player mappings, the operation log and the outbox.
 *
 * The SDK client (lib/wiring.ts) makes up to 3 attempts per request with a
 * 2 s request timeout, so a fault meant to fail a request applies to every
 * matching attempt unless a case says otherwise.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../lib/config.ts';
import type { ReconcileStarting } from '../../lib/reconcile-starting/reconcile-starting.ts';
import { OUTCOME_UNKNOWN_MESSAGE } from '../../lib/register-runtime/register-runtime.ts';
import { buildReconciler } from '../../lib/wiring.ts';
import { type DynamoProxy, type FaultMode, type ProxiedRequest, requestIs, startDynamoProxy } from '../support/dynamo-proxy.ts';
import { apiEvent, lambdaContext, RecordingLog, registerBody } from '../support/harness.ts';
import { coldStart, type Handler, parse, type Stack, startStack } from '../support/stack.ts';

const STARTING_TIMEOUT_S = 120;

let stack: Stack;
let handler: Handler;
let proxy: DynamoProxy;
let counter = 0;
const newGame = () => `g-sf-${++counter}`;

beforeAll(async () => {
  proxy = await startDynamoProxy(inject('dynamoEndpoint'));
  stack = await startStack({ AWS_ENDPOINT_URL_DYNAMODB: proxy.url, STARTING_TIMEOUT_S: String(STARTING_TIMEOUT_S) });
});

// A fresh execution environment (cold start, new SDK client) per case: a
// client's retry quota is drained by the faults of earlier cases, and a
// case that counts the SDK's attempts must not depend on the ones before it.
beforeEach(async () => {
  handler = await coldStart('../../functions/register-runtime/handler.ts');
});

afterEach(() => {
  proxy.clearFaults();
});

afterAll(async () => {
  await proxy?.close();
  await stack?.close();
});

/** The handler's requests, by step. */
const at = {
  /** Steps 1 and 2: the record and the version in one BatchGetItem (only in a fresh environment, or for a version not yet known). */
  read: () => requestIs({ op: 'BatchGetItem' }),
  insert: () => requestIs({ op: 'PutItem', table: stack.tables.names.runtimeRecords }),
  // The commit is the transaction holding the compare-and-set and the audit entry.
  commit: () => requestIs({ op: 'TransactWriteItems', withUpdate: true, table: stack.tables.names.operationLog }),
  mappingChunk: () => (req: ProxiedRequest) => requestIs({ op: 'TransactWriteItems', withUpdate: false })(req) && !req.body.includes('"Delete"'),
  // The fence that settles an attempted commit: the conditional update of the record (its mark).
  fence: () => requestIs({ op: 'UpdateItem', table: stack.tables.names.runtimeRecords }),
  recordDelete: () => requestIs({ op: 'DeleteItem', table: stack.tables.names.runtimeRecords }),
  /** The rollback's mapping deletes: transactions of conditional deletes (single deletes only as a fall-back). */
  mappingDelete: () => (req: ProxiedRequest) =>
    req.tables.includes(stack.tables.names.playerMappings) &&
    (req.op === 'DeleteItem' || (req.op === 'TransactWriteItems' && req.body.includes('"Delete"'))),
  auditPut: () => requestIs({ op: 'PutItem', table: stack.tables.names.operationLog }),
};

async function register(gameId: string, options: { members?: number; version?: string; remainingMs?: number } = {}) {
  const body = registerBody(gameId, stack.engine.url, options);
  return parse(await handler(apiEvent(body), lambdaContext(options.remainingMs)));
}

const rowsOf = (gameId: string) => stack.tables.rowsOf(gameId);
const outboxOf = (gameId: string) => stack.tables.outboxOf(gameId);

/** A 503 whose message names the step and carries nothing of the SDK or the socket. */
function expectUnavailable(res: { status: number; body: any }, step: string) {
  expect(res.status).toBe(503);
  expect(res.body).toEqual({ error: { code: 'service_unavailable', message: `${step}: store request failed` } });
  expect(res.body.error.message).not.toMatch(/injected|InternalServer|Throttl|Provisioned|ECONN|socket|hang up|abort|timed? ?out|Exception/i);
}

/** No record, no mapping, no outbox item, and the one failure entry of this operation. */
async function expectNothingLeft(gameId: string, code: string, message: string) {
  const rows = await rowsOf(gameId);
  expect(rows.records).toEqual([]);
  expect(rows.mappings).toEqual([]);
  expect(await outboxOf(gameId)).toEqual([]);
  expect(rows.log).toEqual([
    expect.objectContaining({
      op_kind: 'register_runtime',
      op_source: 'lobby_internal',
      outcome: 'failure',
      error_code: code,
      error_message: message,
    }),
  ]);
}

/** A 2-member registration that completed despite the fault: the running record, both mappings, the success entry, exactly one outbox item. */
async function expectRegisteredWhole(gameId: string) {
  const rows = await rowsOf(gameId);
  expect(rows.records).toEqual([expect.objectContaining({ status: 'running' })]);
  expect(rows.mappings).toHaveLength(2);
  expect(rows.log.map((e) => e.outcome)).toEqual(['success']);
  expect(await outboxOf(gameId)).toEqual([expect.objectContaining({ event_id: rows.records[0]?.op_id, game_id: gameId })]);
  return rows;
}

/** After a reclaim: nothing of the registration left but its two failure entries. */
async function expectReclaimed(gameId: string) {
  const rows = await rowsOf(gameId);
  expect(rows.records).toEqual([]);
  expect(rows.mappings).toEqual([]);
  expect(await outboxOf(gameId)).toEqual([]);
  expect(rows.log.map((e) => e.error_code).sort()).toEqual(['registration_abandoned', 'service_unavailable']);
}

/** A reconciler on the direct DynamoDB Local client, its clock past STARTING_TIMEOUT_S. */
function lateReconciler(): ReconcileStarting {
  return buildReconciler(loadConfig(), {
    dynamo: stack.tables.client,
    log: new RecordingLog(),
    clock: () => new Date(Date.now() + (STARTING_TIMEOUT_S + 5) * 1000),
  });
}

describe('Function: registerRuntime under store faults (DynamoDB Local through a faulting proxy)', () => {
  describe('the reads and the insert fail: 503, the engine never called, nothing left but the failure entry', () => {
    it.each<[string, keyof typeof at, FaultMode, string]>([
      ['record and version read', 'read', 'internal-error', 'get runtime record and engine version'],
      ['record and version read', 'read', 'throttle', 'get runtime record and engine version'],
      ['record and version read', 'read', 'provisioned-throughput', 'get runtime record and engine version'],
      ['record and version read', 'read', 'drop', 'get runtime record and engine version'],
      ['insert (never landed)', 'insert', 'internal-error', 'insert runtime record'],
      ['insert (never landed)', 'insert', 'drop', 'insert runtime record'],
    ])('%s, %s', async (_what, step, mode, stepName) => {
      // Prepare
      const gameId = newGame();
      const fault = proxy.fault({ match: at[step](), mode });
      const engineCalls = stack.engine.calls.length;
      // A fresh environment: warm, a known version is not read at all.
      if (step === 'read') handler = await coldStart('../../functions/register-runtime/handler.ts');

      // Act
      const res = await register(gameId);

      // Assess
      expectUnavailable(res, stepName);
      expect(fault.faulted).toBe(3); // every attempt of the SDK
      expect(stack.engine.calls.length).toBe(engineCalls);
      await expectNothingLeft(gameId, 'service_unavailable', `${stepName}: store request failed`);
    });
  });

  describe('the conditional insert: no runtime record left', () => {
    it('commit-then-drop: the insert landed unseen, and the rollback deletes it by its op_id', async () => {
      // Prepare: every attempt is applied upstream, then its answer dropped.
      const gameId = newGame();
      const fault = proxy.fault({ match: at.insert(), mode: 'commit-then-drop' });
      const from = proxy.requests.length;
      const engineCalls = stack.engine.calls.length;

      // Act
      const res = await register(gameId);

      // Assess
      expectUnavailable(res, 'insert runtime record');
      expect(fault.faulted).toBe(3);
      // The first attempt landed; the SDK's retries met it and were refused.
      const inserts = proxy.requests.slice(from).filter(at.insert());
      expect(inserts.map((r) => r.upstreamStatus)).toEqual([200, 400, 400]);
      expect(stack.engine.calls.length).toBe(engineCalls);
      const deletes = proxy.requests.slice(from).filter(at.recordDelete());
      expect(deletes.map((r) => r.upstreamStatus)).toEqual([200]);
      await expectNothingLeft(gameId, 'service_unavailable', 'insert runtime record: store request failed');
    });
  });

  describe('a single fault the SDK retries past: the registration completes', () => {
    it.each<[string, keyof typeof at, FaultMode]>([
      ['the record and version read fails once: the SDK retries past it', 'read', 'internal-error'],
      ['the insert lands unseen: its retry meets this operation\'s own record, which is no conflict', 'insert', 'commit-then-drop'],
    ])('%s: 201, whole', async (_what, step, mode) => {
      // Prepare: only the first attempt is faulted.
      const gameId = newGame();
      const fault = proxy.fault({ match: at[step](), mode, times: 1 });
      if (step === 'read') handler = await coldStart('../../functions/register-runtime/handler.ts');

      // Act
      const res = await register(gameId);

      // Assess
      expect(res.status).toBe(201);
      expect(fault.faulted).toBe(1);
      await expectRegisteredWhole(gameId);
    });

    it('the Idempotency-Key put: the retry meets this call\'s own in-progress record: 201, not request_in_progress', async () => {
      const gameId = newGame();
      const fault = proxy.fault({ match: requestIs({ op: 'PutItem', table: stack.tables.names.idempotency }), mode: 'commit-then-drop', times: 1 });
      const body = registerBody(gameId, stack.engine.url);

      const res = parse(await handler(apiEvent(body, { headers: { 'Idempotency-Key': `k-${gameId}` } }), lambdaContext()));

      expect(fault.faulted).toBe(1);
      expect(res.status).toBe(201);
      const replay = parse(await handler(apiEvent(body, { headers: { 'Idempotency-Key': `k-${gameId}` } }), lambdaContext()));
      expect(replay.headers['idempotent-replayed']).toBe('true');
    });
  });

  describe('the commit transaction (2 members: mappings + compare-and-set + success entry)', () => {
    it.each<FaultMode>(['internal-error', 'throttle', 'drop'])('%s: 503 and nothing left', async (mode) => {
      // Prepare
      const gameId = newGame();
      const fault = proxy.fault({ match: at.commit(), mode });

      // Act
      const res = await register(gameId);

      // Assess
      expectUnavailable(res, 'commit runtime record');
      expect(fault.faulted).toBe(3);
      await expectNothingLeft(gameId, 'service_unavailable', 'commit runtime record: store request failed');
    });

    it('commit-then-drop: the transaction landed unseen; the fence is refused by the running record: 201, whole, one outbox item', async () => {
      // Prepare
      const gameId = newGame();
      const fault = proxy.fault({ match: at.commit(), mode: 'commit-then-drop' });
      const from = proxy.requests.length;

      // Act
      const res = await register(gameId);

      // Assess: a committed registration stands (its event may already be on the stream).
      expect(res.status).toBe(201);
      expect(fault.faulted).toBe(3);
      // Every attempt landed or was answered as landed (same ClientRequestToken).
      expect(proxy.requests.slice(from).filter(at.commit()).map((r) => r.upstreamStatus)).toEqual([200, 200, 200]);
      // One fence, refused: it settled that the commit landed; nothing was deleted.
      expect(proxy.requests.slice(from).filter(at.fence()).map((r) => r.upstreamStatus)).toEqual([400]);
      expect(proxy.requests.slice(from).filter((r) => r.op === 'DeleteItem' || at.mappingDelete()(r))).toEqual([]);
      const rows = await expectRegisteredWhole(gameId);
      expect(rows.records).toEqual([expect.objectContaining(res.body)]);
    });

    it('commit-then-drop, then the store fails for a while (the fence unanswered): 503 "commit outcome unknown", nothing undone; whole, and the reconciler leaves it', async () => {
      // Prepare: the commit lands unseen, then every further request fails.
      const gameId = newGame();
      const commit = proxy.fault({ match: at.commit(), mode: 'commit-then-drop' });
      const brownout = proxy.fault({ match: (r) => commit.faulted > 0 && !at.commit()(r), mode: 'internal-error' });

      // Act
      const res = await register(gameId);

      // Assess: the outcome is not settled, so nothing more was written and no failure entry exists.
      expect(res).toMatchObject({ status: 503, body: { error: { code: 'service_unavailable', message: OUTCOME_UNKNOWN_MESSAGE } } });
      expect(brownout.faulted).toBe(3); // the fence's three attempts
      await expectRegisteredWhole(gameId);
      proxy.clearFaults();
      expect(await lateReconciler().run()).toEqual({ examined: 0, reclaimed: 0 });
      await expectRegisteredWhole(gameId);
    });

    it('the commit fails (did not land) and the fence goes unanswered: 503 "commit outcome unknown"; the reconciler later reclaims it, nothing left', async () => {
      // Prepare
      const gameId = newGame();
      proxy.fault({ match: at.commit(), mode: 'internal-error' });
      const fenceFault = proxy.fault({ match: at.fence(), mode: 'internal-error' });

      // Act
      const res = await register(gameId);

      // Assess: no rollback, no failure entry; the `starting` record is what the reconciler finds.
      expect(res).toMatchObject({ status: 503, body: { error: { code: 'service_unavailable', message: OUTCOME_UNKNOWN_MESSAGE } } });
      expect(fenceFault.faulted).toBe(3);
      const left = await rowsOf(gameId);
      expect(left.records).toEqual([expect.objectContaining({ status: 'starting', starting_marker: 'starting' })]);
      expect(left.mappings).toEqual([]);
      expect(left.log).toEqual([]);
      expect(await outboxOf(gameId)).toEqual([]);
      proxy.clearFaults();
      expect(await lateReconciler().run()).toEqual({ examined: 1, reclaimed: 1 });
      const rows = await rowsOf(gameId);
      expect(rows.records).toEqual([]);
      expect(rows.mappings).toEqual([]);
      expect(rows.log.map((e) => e.error_code)).toEqual(['registration_abandoned']);
    });

    it('the commit fails and the fence lands unseen: its SDK retry lands again (same mark), the rollback goes on: nothing left', async () => {
      // Prepare
      const gameId = newGame();
      proxy.fault({ match: at.commit(), mode: 'internal-error' });
      const fenceFault = proxy.fault({ match: at.fence(), mode: 'commit-then-drop', times: 1 });
      const from = proxy.requests.length;

      // Act
      const res = await register(gameId);

      // Assess
      expectUnavailable(res, 'commit runtime record');
      expect(fenceFault.faulted).toBe(1);
      expect(proxy.requests.slice(from).filter(at.fence()).map((r) => r.upstreamStatus)).toEqual([200, 200]);
      await expectNothingLeft(gameId, 'service_unavailable', 'commit runtime record: store request failed');
    });

    it('the commit fails, and the fence first meets the commit still executing (TransactionConflict): asked again, it lands; nothing left', async () => {
      // Prepare
      const gameId = newGame();
      proxy.fault({ match: at.commit(), mode: 'internal-error' });
      const conflict = proxy.fault({ match: at.fence(), mode: 'transaction-conflict', times: 2 });
      const from = proxy.requests.length;

      // Act
      const res = await register(gameId);

      // Assess: settled by the third fence, not answered "outcome unknown".
      expectUnavailable(res, 'commit runtime record');
      expect(conflict.faulted).toBe(2);
      expect(proxy.requests.slice(from).filter(at.fence()).map((r) => r.fault ?? r.upstreamStatus)).toEqual(['transaction-conflict', 'transaction-conflict', 200]);
      await expectNothingLeft(gameId, 'service_unavailable', 'commit runtime record: store request failed');
    });

    it('the commit fails with the outbox table unavailable: the rollback never needs it (fence, mappings, record): nothing left', async () => {
      // Prepare: every request naming the outbox table fails (the commit carries its item).
      const gameId = newGame();
      const outboxDown = proxy.fault({ match: requestIs({ table: stack.tables.names.outbox }), mode: 'internal-error' });

      // Act
      const res = await register(gameId);

      // Assess
      expectUnavailable(res, 'commit runtime record');
      expect(outboxDown.faulted).toBe(3); // the commit's attempts, and nothing else
      await expectNothingLeft(gameId, 'service_unavailable', 'commit runtime record: store request failed');
    });

    it('the commit fails after a mapping chunk, the fence lands, and the mapping deletes fail: the failure stands; the record is left fenced and the reconciler finishes', async () => {
      // Prepare: 150 members, so a chunk of 53 mappings lands before the final transaction.
      const gameId = newGame();
      proxy.fault({ match: at.commit(), mode: 'internal-error' });
      proxy.fault({ match: at.mappingDelete(), mode: 'internal-error' });

      // Act
      const res = await register(gameId, { members: 150 });

      // Assess: fenced (marked for reclaim), so no commit can land; the reconciler finishes.
      expectUnavailable(res, 'commit runtime record');
      const left = await rowsOf(gameId);
      expect(left.records).toEqual([expect.objectContaining({ status: 'starting', starting_marker: 'starting', reclaim_started_at: expect.any(String) })]);
      expect(left.mappings).toHaveLength(53);
      expect(await outboxOf(gameId)).toEqual([]);
      proxy.clearFaults();
      expect(await lateReconciler().run()).toEqual({ examined: 1, reclaimed: 1 });
      await expectReclaimed(gameId);
    });

    it('commit-then-drop once: the SDK retry of the same transaction (same ClientRequestToken) succeeds: 201, whole', async () => {
      // Prepare: only the first attempt is dropped after it committed.
      const gameId = newGame();
      const fault = proxy.fault({ match: at.commit(), mode: 'commit-then-drop', times: 1 });
      const from = proxy.requests.length;

      // Act
      const res = await register(gameId);

      // Assess: the retry is answered as the first commit, not refused by its compare-and-set.
      expect(res.status).toBe(201);
      expect(fault.faulted).toBe(1);
      expect(proxy.requests.slice(from).filter(at.commit()).map((r) => r.upstreamStatus)).toEqual([200, 200]);
      const rows = await expectRegisteredWhole(gameId);
      expect(rows.records).toEqual([expect.objectContaining(res.body)]);
    });
  });

  describe('the mapping chunks of a 250-member roster (100 + 53, then 97 + CAS + entry + outbox item)', () => {
    it('first chunk fails: 503 and nothing left', async () => {
      // Prepare
      const gameId = newGame();
      const fault = proxy.fault({ match: at.mappingChunk(), mode: 'internal-error' });

      // Act
      const res = await register(gameId, { members: 250 });

      // Assess
      expectUnavailable(res, 'write player mappings');
      expect(fault.faulted).toBe(3);
      await expectNothingLeft(gameId, 'service_unavailable', 'write player mappings: store request failed');
    });

    it.each<FaultMode>(['internal-error', 'drop', 'commit-then-drop'])(
      'second chunk fails (%s) after the first committed: 503 and no mapping left',
      async (mode) => {
        // Prepare
        const gameId = newGame();
        const fault = proxy.fault({ match: at.mappingChunk(), mode, after: 1 });
        const from = proxy.requests.length;

        // Act
        const res = await register(gameId, { members: 250 });

        // Assess
        expectUnavailable(res, 'write player mappings');
        expect(fault.faulted).toBe(3);
        const chunks = proxy.requests.slice(from).filter(at.mappingChunk());
        expect(chunks[0]?.upstreamStatus).toBe(200);
        expect(chunks).toHaveLength(4);
        expect(proxy.requests.slice(from).filter(at.commit())).toEqual([]);
        await expectNothingLeft(gameId, 'service_unavailable', 'write player mappings: store request failed');
      },
    );
  });

  describe('faults in the rollback keep the original answer; the reconciler finishes the job', () => {
    it('commit and record delete both fail: 503 stands, the starting record is left for the reconciler', async () => {
      // Prepare
      const gameId = newGame();
      proxy.fault({ match: at.commit(), mode: 'internal-error' });
      const deleteFault = proxy.fault({ match: at.recordDelete(), mode: 'internal-error' });

      // Act
      const res = await register(gameId);

      // Assess: the original code, the starting record left, its failure audited.
      expectUnavailable(res, 'commit runtime record');
      expect(deleteFault.faulted).toBe(3);
      const left = await rowsOf(gameId);
      expect(left.records).toEqual([expect.objectContaining({ status: 'starting', starting_marker: 'starting' })]);
      expect(left.mappings).toEqual([]);
      expect(await outboxOf(gameId)).toEqual([]);
      expect(left.log.map((e) => [e.outcome, e.error_code])).toEqual([['failure', 'service_unavailable']]);

      // Act 2: the reconciler, past STARTING_TIMEOUT_S.
      proxy.clearFaults();
      const result = await lateReconciler().run();

      // Assess 2
      expect(result).toEqual({ examined: 1, reclaimed: 1 });
      await expectReclaimed(gameId);
    });

    it.each([
      ['the mapping query', 'Query', 250 - 97],
      ['the delete transaction holding u-050', 'delete', 100],
    ] as const)(
      'commit and %s fail (250 members): the record and the mappings left are reclaimed by the reconciler',
      async (_what, op, mappingsLeft) => {
        // Prepare: the commit fails after both chunks committed; then the
        // rollback cannot find (Query) or cannot delete (u-050) the mappings.
        const gameId = newGame();
        proxy.fault({ match: at.commit(), mode: 'throttle' });
        const rollbackFault = proxy.fault({
          match:
            op === 'Query'
              ? requestIs({ op, table: stack.tables.names.playerMappings })
              : (req) => at.mappingDelete()(req) && req.body.includes('"S":"u-050"'),
          mode: 'internal-error',
        });

        // Act
        const res = await register(gameId, { members: 250 });

        // Assess: the original answer; the record kept so the reconciler can find the mappings.
        expectUnavailable(res, 'commit runtime record');
        expect(rollbackFault.faulted).toBe(3);
        const left = await rowsOf(gameId);
        expect(left.records).toEqual([expect.objectContaining({ status: 'starting', starting_marker: 'starting' })]);
        expect(left.mappings).toHaveLength(mappingsLeft);
        expect(await outboxOf(gameId)).toEqual([]);
        expect(left.log.map((e) => [e.outcome, e.error_code])).toEqual([['failure', 'service_unavailable']]);

        // Act 2
        proxy.clearFaults();
        const result = await lateReconciler().run();

        // Assess 2
        expect(result).toEqual({ examined: 1, reclaimed: 1 });
        await expectReclaimed(gameId);
      },
    );
  });

  describe('the failure audit is best effort: the answer stands', () => {
    it('unknown engine version, audit put fails: 404 stands, nothing written', async () => {
      // Prepare
      const gameId = newGame();
      const fault = proxy.fault({ match: at.auditPut(), mode: 'internal-error' });

      // Act
      const res = await register(gameId, { version: '9.9.9' });

      // Assess
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: { code: 'engine_version_not_found', message: 'engine version "9.9.9" not found' } });
      expect(fault.faulted).toBe(3);
      expect(await rowsOf(gameId)).toEqual({ records: [], mappings: [], log: [] });
    });

    it('commit fails, then the audit put drops: 503 stands, and the rollback still ran', async () => {
      // Prepare
      const gameId = newGame();
      proxy.fault({ match: at.commit(), mode: 'internal-error' });
      const fault = proxy.fault({ match: at.auditPut(), mode: 'drop' });

      // Act
      const res = await register(gameId);

      // Assess
      expectUnavailable(res, 'commit runtime record');
      expect(fault.faulted).toBe(3);
      expect(await rowsOf(gameId)).toEqual({ records: [], mappings: [], log: [] });
      expect(await outboxOf(gameId)).toEqual([]);
    });
  });

  describe('a store that stops answering: answered before the Lambda deadline', () => {
    it.each([
      ['commit', 'commit runtime record'],
      ['insert', 'insert runtime record'],
    ] as const)('hang at the %s: 503 before the deadline, nothing left', async (step, name) => {
      // Prepare
      const gameId = newGame();
      const fault = proxy.fault({ match: at[step](), mode: 'hang' });
      // The deployed deadline: the SDK's bounds (2 s per attempt, 3 attempts)
      // answer long before it, so the bound below has a margin no slow
      // machine eats (the spec promises an answer before the deadline).
      const remainingMs = 28_000;
      const started = performance.now();

      // Act
      const res = await register(gameId, { remainingMs });

      // Assess
      const elapsed = performance.now() - started;
      expectUnavailable(res, name);
      expect(elapsed).toBeLessThan(25_000);
      expect(fault.faulted).toBeGreaterThanOrEqual(1);
      await expectNothingLeft(gameId, 'service_unavailable', `${name}: store request failed`);
    });
  });
});
