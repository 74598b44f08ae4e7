/**
 * Registrations that cannot get stuck: registrations killed for real (a
 * child process, SIGKILL) and the reconciler leaving nothing of them; the
 * ones it must leave alone; a slow registration racing the reconciler.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentClient } from '../../lib/adapters/dynamodb-conditions.ts';
import { DynamoStartingRecordReclaimer } from '../../lib/adapters/starting-record-reclaimer.ts';
import { loadConfig } from '../../lib/config.ts';
import type { ReconcileStarting } from '../../lib/reconcile-starting/reconcile-starting.ts';
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

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('Function: reconcileStarting (DynamoDB Local)', () => {
  it('reclaims a registration killed while the engine hung, and leaves it alone while it is young', async () => {
    // Prepare: a registration killed for real while the engine hangs.
    const gameId = newGame();
    const engineCalls = stack.engine.calls.length;
    const { child, exited } = registerInChild(registerBody(gameId, `${stack.engine.url}/hang`));
    await until('the engine call', () => stack.engine.calls.length > engineCalls);
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
    // Prepare: a call with an Idempotency-Key and a 3 s deadline, killed while the engine hangs.
    const gameId = newGame();
    const key = `killed-${gameId}`;
    const hung = registerBody(gameId, `${stack.engine.url}/hang`);
    const engineCalls = stack.engine.calls.length;
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(apiEvent(hung, { headers: { 'Idempotency-Key': key } }))], {
      env: { ...process.env, ...stack.env, REMAINING_MS: '3000', POWERTOOLS_LOG_LEVEL: 'SILENT' },
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await until('the engine call', () => stack.engine.calls.length > engineCalls);
    child.kill('SIGKILL');
    await exited;
    // The dead call's deadline, as its key record holds it.
    const [keyRecord] = (await stack.tables.scan('idempotency')).filter((r) => r.status === 'INPROGRESS');
    const deadline = Number(keyRecord?.in_progress_expiration);
    expect(deadline).toBeGreaterThan(Date.now());
    const retry = async () =>
      parse(await handler(apiEvent(hung, { headers: { 'Idempotency-Key': key } }), lambdaContext()));

    // Act + Assess: before the dead call's deadline the key is still held...
    const early = await retry();
    expect(early.status).toBe(409);
    expect(early.body.error.code).toBe('request_in_progress');
    expect(Number(early.headers['retry-after'])).toBeLessThanOrEqual(3);

    // ...after it, the retry runs, and meets the abandoned record (not remembered)...
    await new Promise((r) => setTimeout(r, Math.max(0, deadline + 100 - Date.now())));
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

  it('deletes the reclaimed operation\'s outbox item, should one exist, and no other operation\'s', async () => {
    // Prepare: a registration killed before its commit, and (as if written
    // by some path the reconciler cannot know) an item keyed by its op_id,
    // beside another game's item.
    const gameId = newGame();
    const other = newGame();
    await killBeforeCommit(gameId, 2);
    const [record] = (await rowsOf(gameId)).records;
    const item = (eventId: string, game: string) => ({ event_id: eventId, game_id: game, detail_type: 'runtime_snapshot_update', detail: '{}', created_at: new Date().toISOString(), expiration: 0 });
    await stack.tables.doc.send(new PutCommand({ TableName: stack.tables.names.outbox, Item: item(String(record?.op_id), gameId) }));
    await stack.tables.doc.send(new PutCommand({ TableName: stack.tables.names.outbox, Item: item(`other-${other}`, other) }));

    // Act
    const result = await reconciler(pastTimeout).run();

    // Assess
    expect(result).toEqual({ examined: 1, reclaimed: 1 });
    await expectReclaimed(gameId);
    expect(await stack.tables.outboxOf(other)).toHaveLength(1);
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
