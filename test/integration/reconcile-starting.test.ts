/**
 * Registrations that cannot get stuck: registrations killed for real (a
 * child process, SIGKILL) and the reconciler leaving nothing of them; the
 * ones it must leave alone; a slow registration racing the reconciler.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { documentClient } from '../../lib/adapters/dynamodb-conditions.ts';
import { DynamoStartingRecordReclaimer } from '../../lib/adapters/starting-record-reclaimer.ts';
import { loadConfig } from '../../lib/config.ts';
import { RECONCILE_STOP_MS, type ReconcileResult, type ReconcileStarting } from '../../lib/reconcile-starting/reconcile-starting.ts';
import { buildReconciler } from '../../lib/wiring.ts';
import { type DynamoProxy, startDynamoProxy } from '../support/dynamo-proxy.ts';
import { captureEmf } from '../support/emf.ts';
import { answerRoster } from '../support/engine-server.ts';
import { apiEvent, lambdaContext, RecordingLog, registerBody } from '../support/harness.ts';
import { coldStart, type Handler, parse, type Stack, startStack } from '../support/stack.ts';

const STARTING_TIMEOUT_S = 120;
const CHILD = fileURLToPath(new URL('../support/register-child.ts', import.meta.url));

let stack: Stack;
let handler: Handler;
let proxy: DynamoProxy;
let counter = 0;
const newGame = () => `g-rc-${++counter}`;

beforeAll(async () => {
  stack = await startStack({ STARTING_TIMEOUT_S: String(STARTING_TIMEOUT_S) });
  handler = await coldStart('../../functions/register-runtime/handler.ts');
  proxy = await startDynamoProxy(stack.tables.endpoint);
});

afterEach(() => {
  vi.useRealTimers();
});

afterAll(async () => {
  await proxy?.close();
  await stack?.close();
});

/** A reconciler whose clock runs `aheadS` seconds in the future. */
function reconciler(aheadS: number, log = new RecordingLog()): ReconcileStarting {
  return buildReconciler(loadConfig(), {
    dynamo: stack.tables.client,
    log,
    clock: () => new Date(Date.now() + aheadS * 1000),
  });
}
const pastTimeout = STARTING_TIMEOUT_S + 5;

const rowsOf = (gameId: string) => stack.tables.rowsOf(gameId);

/** Starts a registration in a child process; resolves once it has exited. */
function registerInChild(body: unknown, env: Record<string, string> = {}): { child: ChildProcess; exited: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(apiEvent(body))], {
    env: { ...process.env, ...stack.env, ...env, REMAINING_MS: '28000', POWERTOOLS_LOG_LEVEL: 'SILENT' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, exited };
}

/** Nothing of the registration left (no outbox item either) but the reconciler's registration_abandoned entry. */
async function expectReclaimed(gameId: string) {
  const rows = await rowsOf(gameId);
  expect(rows.records).toEqual([]);
  expect(rows.mappings).toEqual([]);
  expect(await stack.tables.outboxOf(gameId)).toEqual([]);
  expect(rows.log.map((e) => e.error_code)).toEqual(['registration_abandoned']);
  return rows;
}

/**
 * Registers `members` in a child process through the proxy, holds its commit
 * transaction (the one with the compare-and-set), and kills the child there:
 * the mapping chunks before the commit are written, nothing after.
 */
async function killBeforeCommit(gameId: string, members: number): Promise<void> {
  proxy.holdIf((req) => req.target.endsWith('TransactWriteItems') && req.body.includes('"Update"'));
  const held = proxy.nextHeld();
  const { child, exited } = registerInChild(registerBody(gameId, stack.engine.url, { members }), { AWS_ENDPOINT_URL_DYNAMODB: proxy.url });
  await held;
  child.kill('SIGKILL');
  await exited;
  proxy.holdIf(undefined);
}

/** An abandoned `starting` record as a dead registration leaves it, created `ageS` seconds ago. */
async function seedStarting(gameId: string, ageS: number): Promise<void> {
  await stack.tables.seedAbandonedStarting(gameId, ageS, stack.engine.url);
}

describe('Function: reconcileStarting (DynamoDB Local)', () => {
  it('reclaims a registration killed while the engine hung, and leaves it alone while it is young', async () => {
    // Prepare: a registration killed for real while the engine hangs.
    const gameId = newGame();
    const engineHeld = stack.engine.holdNext();
    const { child, exited } = registerInChild(registerBody(gameId, `${stack.engine.url}/hang`));
    await engineHeld.arrived;
    child.kill('SIGKILL');
    await exited;
    const left = await rowsOf(gameId);
    expect(left.records).toHaveLength(1);
    expect(left.records[0]?.status).toBe('starting');

    // Act 1: younger than STARTING_TIMEOUT_S -> left alone.
    const young = await reconciler(0).run();
    expect(young).toEqual({ examined: 0, reclaimed: 0 });
    expect((await rowsOf(gameId)).records).toHaveLength(1);

    // Act 2: past the timeout -> reclaimed.
    const emf = captureEmf();
    const log = new RecordingLog();
    const result = await reconciler(pastTimeout, log).run();
    emf.restore();

    // Assess
    expect(result).toEqual({ examined: 1, reclaimed: 1 });
    const rows = await expectReclaimed(gameId);
    expect(rows.log[0]).toMatchObject({ op_kind: 'register_runtime', op_source: 'reconciler', outcome: 'failure', source_ref: left.records[0]?.op_id });
    expect(emf.metrics().filter((m) => m.name === 'register_runtime_outcomes').map((m) => m.dimensions)).toEqual([
      expect.objectContaining({ outcome: 'failure', error_code: 'registration_abandoned' }),
    ]);
    expect(log.at('warn')).toHaveLength(1);
    expect(log.at('warn')[0]?.extra.game_id).toBe(gameId);

    // The game can be registered again.
    expect(parse(await handler(apiEvent(registerBody(gameId, stack.engine.url)), lambdaContext())).status).toBe(201);
  });

  it('reclaims a 250-member registration killed before its commit, with mapping chunks written', async () => {
    // Prepare: hold the commit transaction (the one with the compare-and-set), then kill.
    const gameId = newGame();
    await killBeforeCommit(gameId, 250);
    const left = await rowsOf(gameId);
    expect(left.records[0]?.status).toBe('starting');
    expect(left.mappings).toHaveLength(250 - 97);

    // Act
    const result = await reconciler(pastTimeout).run();

    // Assess
    expect(result).toEqual({ examined: 1, reclaimed: 1 });
    await expectReclaimed(gameId);
  });

  it('finishes a reclaim that was interrupted after its mark', async () => {
    // Prepare: a killed registration, then a reconciler that died right after marking it.
    const gameId = newGame();
    await killBeforeCommit(gameId, 120);
    const [record] = (await rowsOf(gameId)).records;
    const reclaimer = new DynamoStartingRecordReclaimer(documentClient(stack.tables.client), loadConfig().tables);
    const ref = { game_id: gameId, op_id: String(record?.op_id), created_at: String(record?.created_at) };
    expect(await reclaimer.markReclaiming(ref, new Date().toISOString())).toBe(true);
    expect((await rowsOf(gameId)).mappings).toHaveLength(120 - 97);

    // Act
    const result = await reconciler(pastTimeout).run();

    // Assess
    expect(result).toEqual({ examined: 1, reclaimed: 1 });
    await expectReclaimed(gameId);
  });

  it('a keyed call killed mid-flight holds its key until its Lambda deadline, then its retry succeeds once reclaimed', async () => {
    // Prepare: a call with an Idempotency-Key and the deployed 28 s deadline, killed while the engine holds it.
    const gameId = newGame();
    const key = `killed-${gameId}`;
    const hung = registerBody(gameId, `${stack.engine.url}/hang`);
    const engineHeld = stack.engine.holdNext();
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(apiEvent(hung, { headers: { 'Idempotency-Key': key } }))], {
      env: { ...process.env, ...stack.env, REMAINING_MS: '28000', POWERTOOLS_LOG_LEVEL: 'SILENT' },
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await engineHeld.arrived;
    child.kill('SIGKILL');
    await exited;
    // The dead call's deadline, as its key record holds it.
    const [keyRecord] = (await stack.tables.scan('idempotency')).filter((r) => r.status === 'INPROGRESS');
    const deadline = Number(keyRecord?.in_progress_expiration);
    const retry = async () =>
      parse(await handler(apiEvent(hung, { headers: { 'Idempotency-Key': key } }), lambdaContext()));

    // Act + Assess: just before the dead call's deadline (an injected clock:
    // Powertools compares the key's deadline with Date.now) the key is held...
    vi.useFakeTimers({ toFake: ['Date'], now: deadline - 1_000 });
    const early = await retry();
    expect(early.status).toBe(409);
    expect(early.body.error.code).toBe('request_in_progress');
    expect(early.headers['retry-after']).toBe('1');

    // ...just after it, the retry runs, and meets the abandoned record (not remembered)...
    vi.setSystemTime(deadline + 1);
    stack.engine.setNextHandler((_req, res, body) => answerRoster(res, body));
    const blocked = await retry();
    expect(blocked.status).toBe(409);
    expect(blocked.body.error.code).toBe('conflict');

    // ...and once the reconciler reclaimed it, the same retry registers the game.
    expect(await reconciler(pastTimeout).run()).toEqual({ examined: 1, reclaimed: 1 });
    const done = await retry();
    expect(done.status).toBe(201);
    expect((await rowsOf(gameId)).records[0]?.status).toBe('running');
  });

  it('a large backlog: the run stops starting reclaims when its time budget is spent, and the next run finishes the rest', async () => {
    // Prepare: 30 abandoned records; an injected clock that advances 1 s per
    // reading (so each reclaim costs the run time), and the function's
    // remaining time read from that clock, 50 s at the start (its timeout).
    const games = Array.from({ length: 30 }, newGame);
    await Promise.all(games.map((g) => seedStarting(g, pastTimeout)));
    let now = Date.now();
    const clock = () => {
      const at = new Date(now);
      now += 1_000;
      return at;
    };
    const budgeted = (log = new RecordingLog()) => {
      const deadline = now + 50_000;
      const run = buildReconciler(loadConfig(), { dynamo: stack.tables.client, log, clock }).run(() => deadline - now);
      return { run, left: () => deadline - now };
    };
    const log = new RecordingLog();

    // Act
    const first = budgeted(log);
    const firstResult = await first.run;
    const timeLeftAfterFirst = first.left();
    const leftAfterFirst = (await stack.tables.scan('runtimeRecords')).filter((r) => games.includes(String(r.game_id)));
    const second = budgeted();
    const secondResult = await second.run;

    // Assess: the first run ended inside its budget, before the function's timeout...
    expect(firstResult.examined).toBeGreaterThan(0);
    expect(firstResult.examined).toBeLessThan(30);
    expect(firstResult.reclaimed).toBe(firstResult.examined);
    expect(timeLeftAfterFirst).toBeGreaterThan(0);
    expect(timeLeftAfterFirst).toBeLessThan(RECONCILE_STOP_MS);
    expect(log.lines.filter((l) => l.message.startsWith('reconcile time budget spent'))).toEqual([
      expect.objectContaining({ extra: { examined: firstResult.examined, reclaimed: firstResult.reclaimed, left: 30 - firstResult.examined } }),
    ]);
    // ...leaving the rest untouched for the next run, which finished them.
    expect(leftAfterFirst).toHaveLength(30 - firstResult.examined);
    expect(leftAfterFirst.every((r) => r.status === 'starting' && r.reclaim_started_at === undefined)).toBe(true);
    expect(secondResult).toEqual({ examined: 30 - firstResult.examined, reclaimed: 30 - firstResult.examined });
    expect(second.left()).toBeGreaterThan(RECONCILE_STOP_MS);
    for (const g of games) await expectReclaimed(g);
  });

  it("the deployed handler takes its budget from the Lambda context's remaining time", async () => {
    const gameId = newGame();
    await seedStarting(gameId, pastTimeout);
    const reconcile = await coldStart<(event: unknown, context: Context) => Promise<ReconcileResult>>('../../functions/reconcile-starting/handler.ts');
    const context = (remainingMs: number) => lambdaContext(remainingMs, 'game-master-test-reconcileStarting');

    // Less than the stop margin left: nothing started, the record left for the next run.
    expect(await reconcile({}, context(RECONCILE_STOP_MS - 1))).toEqual({ examined: 0, reclaimed: 0 });
    expect((await rowsOf(gameId)).records).toHaveLength(1);
    // The function's full 50 s: reclaimed.
    expect(await reconcile({}, context(50_000))).toEqual({ examined: 1, reclaimed: 1 });
    await expectReclaimed(gameId);
  });

  it('leaves a completed registration alone', async () => {
    const gameId = newGame();
    expect(parse(await handler(apiEvent(registerBody(gameId, stack.engine.url)), lambdaContext())).status).toBe(201);
    const before = await rowsOf(gameId);
    const outbox = await stack.tables.outboxOf(gameId);
    expect(outbox).toHaveLength(1);

    const result = await reconciler(pastTimeout).run();

    expect(result).toEqual({ examined: 0, reclaimed: 0 });
    expect(await rowsOf(gameId)).toEqual(before);
    expect(await stack.tables.outboxOf(gameId)).toEqual(outbox);
  });

  it('a slow registration whose record was marked meanwhile rolls itself back', async () => {
    // Prepare: while the engine holds the init call, the reconciler marks the record.
    const gameId = newGame();
    const reclaimer = new DynamoStartingRecordReclaimer(documentClient(stack.tables.client), loadConfig().tables);
    stack.engine.setNextHandler((_req, res, body) => {
      void (async () => {
        const [record] = (await rowsOf(gameId)).records;
        await reclaimer.markReclaiming(
          { game_id: gameId, op_id: String(record?.op_id), created_at: String(record?.created_at) },
          new Date().toISOString(),
        );
        answerRoster(res, body);
      })();
    });

    // Act
    const res = parse(await handler(apiEvent(registerBody(gameId, stack.engine.url)), lambdaContext()));

    // Assess: refused compare-and-set -> rollback, not a running record without mappings.
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('conflict');
    const rows = await rowsOf(gameId);
    expect(rows.records).toEqual([]);
    expect(rows.mappings).toEqual([]);
    expect(await stack.tables.outboxOf(gameId)).toEqual([]);
    expect(rows.log.map((e) => e.error_code)).toEqual(['conflict']);
    expect(await reconciler(pastTimeout).run()).toEqual({ examined: 0, reclaimed: 0 });
  });

  it('a slow registration whose record was reclaimed meanwhile writes nothing', async () => {
    const gameId = newGame();
    stack.engine.setNextHandler((_req, res, body) => {
      void (async () => {
        await reconciler(pastTimeout).run();
        answerRoster(res, body);
      })();
    });

    const res = parse(await handler(apiEvent(registerBody(gameId, stack.engine.url)), lambdaContext()));

    expect(res.status).toBe(409);
    const rows = await rowsOf(gameId);
    expect(rows.records).toEqual([]);
    expect(rows.mappings).toEqual([]);
    expect(await stack.tables.outboxOf(gameId)).toEqual([]);
    expect(rows.log.map((e) => e.error_code).sort()).toEqual(['conflict', 'registration_abandoned']);
  });
});
