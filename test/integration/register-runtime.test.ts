/**
 * The deployed handler end to end on DynamoDB Local, with the loopback
 * engine and EventBridge double: every assertion about a failure checks
 * the rows left in every table (outbox included), not just the answer.
 * The snapshot event goes through the outbox: the relay (publishSnapshots,
 * fed by DynamoDB Local's stream) delivers it to the EventBridge double.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { captureEmf } from '../support/emf.ts';
import { apiEvent, lambdaContext, registerBody } from '../support/harness.ts';
import { coldStart, type Handler, healthyOutboxDetail, parse, type Stack, startRelay, startStack } from '../support/stack.ts';
import type { StreamRelay } from '../support/stream-relay.ts';

let stack: Stack;
let handler: Handler;
let relay: StreamRelay;
let gameCounter = 0;
const newGame = () => `g-it-${++gameCounter}`;
const counterKey = () => `${gameCounter}-${Date.now()}`;

beforeAll(async () => {
  stack = await startStack();
  handler = await coldStart('../../functions/register-runtime/handler.ts');
  relay = await startRelay(stack);
});

afterEach(() => {
  vi.useRealTimers();
});

afterAll(async () => {
  relay?.close();
  await stack?.close();
});

async function register(body: unknown, headers: Record<string, string> = {}, remainingMs?: number) {
  return parse(await handler(apiEvent(body, { headers }), lambdaContext(remainingMs)));
}

const rowsOf = (gameId: string) => stack.tables.rowsOf(gameId);

async function expectNothingLeft(gameId: string, code: string) {
  const rows = await rowsOf(gameId);
  expect(rows.records).toEqual([]);
  expect(rows.mappings).toEqual([]);
  expect(rows.log).toHaveLength(1);
  expect(rows.log[0]).toMatchObject({ outcome: 'failure', error_code: code, op_kind: 'register_runtime', op_source: 'lobby_internal' });
  expect(await stack.tables.outboxOf(gameId)).toEqual([]);
}

describe('Function: registerRuntime (DynamoDB Local)', () => {
  describe('success', () => {
    it('installs the runtime whole: running record, mappings, audit entry, outbox item, metrics; the relay delivers the snapshot', async () => {
      // Prepare
      const gameId = newGame();
      await relay.pump();
      const emf = captureEmf();
      const before = stack.events.entries.length;

      // Act
      const res = await register(registerBody(gameId, stack.engine.url), { 'x-request-id': 'lobby-req-1' });
      emf.restore();

      // Assess
      expect(res.status).toBe(201);
      expect(res.headers['content-type']).toBe('application/json');
      expect(res.body).toMatchObject({
        game_id: gameId,
        status: 'running',
        engine_endpoint: stack.engine.url,
        current_image_ref: 'registry.local/galaxy/engine:1.4.2',
        current_engine_version: '1.4.2',
        turn_schedule: '0 */6 * * *',
        current_turn: 0,
        skip_next_tick: false,
        engine_health: '',
      });
      expect(Object.keys(res.body)).toEqual([
        'game_id', 'status', 'engine_endpoint', 'current_image_ref', 'current_engine_version', 'turn_schedule',
        'current_turn', 'next_generation_at', 'skip_next_tick', 'engine_health', 'created_at', 'updated_at',
      ]);
      const next = new Date(res.body.next_generation_at);
      expect(next.getTime()).toBeGreaterThan(new Date(res.body.created_at).getTime());
      expect(next.getUTCHours() % 6).toBe(0);
      expect(next.getUTCMinutes()).toBe(0);

      const rows = await rowsOf(gameId);
      expect(rows.records).toHaveLength(1);
      expect(rows.records[0]).toMatchObject({ ...res.body, status: 'running' });
      expect(rows.records[0]).not.toHaveProperty('starting_marker');
      expect(rows.mappings.map((m) => [m.user_id, m.race_name])).toEqual([
        ['u-001', 'Race 1'],
        ['u-002', 'Race 2'],
      ]);
      for (const m of rows.mappings) expect(typeof m.engine_player_uuid).toBe('string');
      expect(rows.log).toHaveLength(1);
      expect(rows.log[0]).toMatchObject({
        outcome: 'success',
        op_kind: 'register_runtime',
        op_source: 'lobby_internal',
        source_ref: 'lobby-req-1',
        error_code: '',
      });

      // Exactly one outbox item, keyed by the operation id; nothing sent yet.
      const outbox = await stack.tables.outboxOf(gameId);
      expect(outbox).toEqual([
        {
          event_id: expect.any(String),
          game_id: gameId,
          detail_type: 'runtime_snapshot_update',
          detail: expect.any(String),
          created_at: expect.any(String),
          expiration: Math.floor(Date.parse(String(outbox[0]?.created_at)) / 1000) + 604_800,
        },
      ]);
      expect(JSON.parse(String(outbox[0]?.detail))).toEqual({ ...healthyOutboxDetail(gameId, ['u-001', 'u-002']), event_id: outbox[0]?.event_id });
      expect(stack.events.entries.length).toBe(before);
      const registerMetrics = emf.metrics();
      expect(registerMetrics.map((m) => m.name)).toEqual(['register_runtime_outcomes']);
      expect(registerMetrics[0]?.dimensions).toMatchObject({ outcome: 'success', error_code: 'none' });

      // Act 2: the relay's round (the stream's insert, handed to publishSnapshots).
      const relayEmf = captureEmf();
      const invocations = await relay.pump();
      relayEmf.restore();

      // Assess 2: one entry, its Detail the stored string byte for byte.
      expect(invocations).toEqual([{ records: [expect.objectContaining({ eventName: 'INSERT' })], failed: [] }]);
      const published = stack.events.entries.slice(before);
      expect(published).toHaveLength(1);
      expect(published[0]).toMatchObject({ Source: 'galaxy.gamemaster', DetailType: 'runtime_snapshot_update', EventBusName: 'game-master-test-events', accepted: true });
      expect(published[0]?.Detail).toBe(outbox[0]?.detail);
      const relayMetrics = relayEmf.metrics().filter((m) => m.name !== 'register_runtime_outcomes');
      expect(relayMetrics.map((m) => [m.name, m.unit, m.dimensions.event_type])).toEqual([
        ['lobby_events_published', 'Count', 'runtime_snapshot_update'],
        ['lobby_event_delivery_lag', 'Milliseconds', 'runtime_snapshot_update'],
      ]);
      for (const m of relayMetrics) expect(m.dimensions).not.toHaveProperty('outcome');
    });

    it('uses the API Gateway request id as source_ref when there is no X-Request-Id', async () => {
      const gameId = newGame();
      const event = apiEvent(registerBody(gameId, stack.engine.url));
      const res = parse(await handler(event, lambdaContext()));
      expect(res.status).toBe(201);
      const { log } = await rowsOf(gameId);
      expect(log[0]?.source_ref).toBe(event.requestContext.requestId);
    });

    it.each([
      ['an empty context', {}],
      ['no context at all', undefined],
    ])('works when invoked with %s (a harness, not Lambda), with and without a key', async (_what, context) => {
      const plain = parse(await handler(apiEvent(registerBody(newGame(), stack.engine.url)), context as never));
      const keyed = parse(
        await handler(apiEvent(registerBody(newGame(), stack.engine.url), { headers: { 'Idempotency-Key': `ctx-${counterKey()}` } }), context as never),
      );
      expect([plain.status, keyed.status]).toEqual([201, 201]);
    });

    it('registers 250 members (several transaction chunks)', async () => {
      const gameId = newGame();
      const res = await register(registerBody(gameId, stack.engine.url, { members: 250 }));
      expect(res.status).toBe(201);
      const rows = await rowsOf(gameId);
      expect(rows.mappings).toHaveLength(250);
      expect(rows.records[0]?.status).toBe('running');
    });

    it('registers 500 members, the limit', async () => {
      const gameId = newGame();
      const res = await register(registerBody(gameId, stack.engine.url, { members: 500 }));
      expect(res.status).toBe(201);
      expect((await rowsOf(gameId)).mappings).toHaveLength(500);
    });
  });

  describe('limits', () => {
    /** A body at every limit at once: 500 members, every string at its longest, 262144 bytes in all. */
    async function atEveryLimit() {
      const version = `9.${'9'.repeat(60)}-x`; // 64 characters
      await stack.tables.seedEngineVersion(version, 'registry.local/galaxy/engine:limit');
      const gameId = `g${'-'.repeat(100)}${Date.now()}`.padEnd(128, 'x');
      const endpointBase = `${stack.engine.url}/ok/`;
      const body: Record<string, unknown> = {
        game_id: gameId,
        engine_endpoint: endpointBase + 'p'.repeat(2048 - endpointBase.length),
        members: Array.from({ length: 500 }, (_, i) => ({
          user_id: `u${String(i).padStart(3, '0')}`.padEnd(128, 'u'),
          race_name: `Race ${String(i).padStart(3, '0')} `.padEnd(64, 'é'),
        })),
        target_engine_version: version,
        turn_schedule: `0${' '.repeat(118)}*/6 * * *`,
        pad: '',
      };
      body.pad = 'x'.repeat(262_144 - Buffer.byteLength(JSON.stringify(body)));
      return { gameId, body };
    }

    it('a request at exactly every limit registers', async () => {
      // Prepare
      const { gameId, body } = await atEveryLimit();
      expect(Buffer.byteLength(JSON.stringify(body))).toBe(262_144);
      expect((body.turn_schedule as string).length).toBe(128);
      expect((body.engine_endpoint as string).length).toBe(2048);

      // Act
      const res = await register(body);

      // Assess
      expect(res.status).toBe(201);
      const rows = await rowsOf(gameId);
      expect(rows.records[0]?.status).toBe('running');
      expect(rows.mappings).toHaveLength(500);
    });

    it('one byte over the body limit is invalid_request naming the limit, audited under _unidentified, nothing else written', async () => {
      const { gameId, body } = await atEveryLimit();
      body.pad = `${body.pad as string}x`;
      const before = (await stack.tables.query('operationLog', '_unidentified')).length;
      const res = await register(body);
      expect((await stack.tables.query('operationLog', '_unidentified')).length).toBe(before + 1);
      expect(res.status).toBe(400);
      expect(res.body.error.message).toContain('262144');
      const rows = await rowsOf(gameId);
      expect(rows.records).toEqual([]);
      expect(rows.mappings).toEqual([]);
    });
  });

  describe('the engine address is checked after resolution', () => {
    it('a name resolving to the metadata address is invalid_request, never connected to, and rolled back', async () => {
      // Prepare: the deployed wiring with an injected resolver (no connection is made to that address).
      const { HttpEngineClient } = await import('../../lib/adapters/engine-client.ts');
      const { buildRegistration } = await import('../../lib/wiring.ts');
      const { loadConfig } = await import('../../lib/config.ts');
      const resolved: string[] = [];
      const engine = new HttpEngineClient({
        allowLoopback: true,
        resolve: async (hostname) => {
          resolved.push(hostname);
          return [{ address: '169.254.169.254', family: 4 }];
        },
      });
      const { useCase } = buildRegistration({ ...loadConfig(), engineAllowedHosts: ['galaxy-game-*'] }, { dynamo: stack.tables.client, engine });
      const gameId = newGame();

      // Act
      const outcome = await useCase.register({
        body: JSON.stringify(registerBody(gameId, 'http://galaxy-game-x:8080')),
        isBase64Encoded: false,
        opSource: 'lobby_internal',
        sourceRef: 'addr-test',
        remainingTimeMs: () => 25_000,
      });

      // Assess
      expect(resolved).toEqual(['galaxy-game-x']);
      expect(outcome).toEqual({ ok: false, code: 'invalid_request', message: 'engine init: engine address 169.254.169.254 is not allowed' });
      await expectNothingLeft(gameId, 'invalid_request');
    });
  });

  describe('conflict', () => {
    it('answers 409 to a second registration and leaves the first untouched', async () => {
      // Prepare
      const gameId = newGame();
      expect((await register(registerBody(gameId, stack.engine.url))).status).toBe(201);
      const before = await rowsOf(gameId);
      const calls = stack.engine.calls.length;

      // Act
      const res = await register(registerBody(gameId, `${stack.engine.url}/ok`, { members: 3 }));

      // Assess
      expect(res.status).toBe(409);
      expect(res.body).toEqual({ error: { code: 'conflict', message: 'runtime record already exists' } });
      expect(stack.engine.calls.length).toBe(calls);
      const after = await rowsOf(gameId);
      expect(after.records).toEqual(before.records);
      expect(after.mappings).toEqual(before.mappings);
      expect(after.log.map((e) => e.outcome).sort()).toEqual(['failure', 'success']);
    });

    it('10 parallel registrations of one game: one 201, nine 409, one engine call', async () => {
      // Prepare: the engine holds the first init call (a latch) until the
      // nine others have answered, so they all meet the winner mid-flight.
      const gameId = newGame();
      const engineCalls = stack.engine.calls.length;
      const latch = stack.engine.holdNext();

      // Act
      const pending = Array.from({ length: 10 }, () => register(registerBody(gameId, stack.engine.url)));
      let settled = 0;
      const nineAnswered = new Promise<void>((resolve) => {
        for (const p of pending) {
          void p.then(() => {
            if (++settled === 9) resolve();
          });
        }
      });
      await latch.arrived;
      await nineAnswered;
      latch.release();
      const results = await Promise.all(pending);

      // Assess
      const statuses = results.map((r) => r.status).sort();
      expect(statuses).toEqual([201, 409, 409, 409, 409, 409, 409, 409, 409, 409]);
      expect(stack.engine.calls.length - engineCalls).toBe(1);
      const rows = await rowsOf(gameId);
      expect(rows.records).toHaveLength(1);
      expect(rows.records[0]?.status).toBe('running');
      expect(rows.mappings).toHaveLength(2);
      expect(rows.log.filter((e) => e.outcome === 'success')).toHaveLength(1);
      expect(rows.log.filter((e) => e.error_code === 'conflict')).toHaveLength(9);
    });

    it('20 games in parallel all register', async () => {
      const games = Array.from({ length: 20 }, newGame);
      const results = await Promise.all(games.map((g) => register(registerBody(g, stack.engine.url))));
      expect(results.map((r) => r.status)).toEqual(games.map(() => 201));
      for (const g of games) expect((await rowsOf(g)).mappings).toHaveLength(2);
    });
  });

  describe('engine failures leave nothing behind', () => {
    it.each([
      ['status-503', 502, 'engine_unreachable'],
      ['status-500', 502, 'engine_unreachable'],
      ['status-400', 502, 'engine_validation_error'],
      ['status-422', 502, 'engine_validation_error'],
      ['redirect', 502, 'engine_protocol_violation'],
      ['wrong-roster', 502, 'engine_protocol_violation'],
      ['renamed-race', 502, 'engine_protocol_violation'],
      ['duplicate-race', 502, 'engine_protocol_violation'],
      ['not-json', 502, 'engine_protocol_violation'],
      ['bad-shape', 502, 'engine_protocol_violation'],
    ])('engine %s -> %i %s', async (scenario, status, code) => {
      const gameId = newGame();
      const emf = captureEmf();
      const res = await register(registerBody(gameId, `${stack.engine.url}/${scenario}`));
      emf.restore();
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(code);
      expect(res.body.error.message).toMatch(/^engine/);
      await expectNothingLeft(gameId, code);
      expect(emf.metrics().filter((m) => m.name === 'register_runtime_outcomes').map((m) => m.dimensions)).toEqual([
        expect.objectContaining({ outcome: 'failure', error_code: code }),
      ]);
      expect(emf.metrics().filter((m) => m.name === 'lobby_events_published')).toEqual([]);
    });

    it('a hung engine is answered before the deadline and cleaned up', async () => {
      // Prepare: 3 s left, read on a frozen Date (only Date: the engine
      // timeout runs on real timers), so the remaining time is exactly 3 s
      // when the use case bounds the engine call.
      const gameId = newGame();
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });

      // Act
      const res = await register(registerBody(gameId, `${stack.engine.url}/hang`), {}, 3_000);

      // Assess: the engine call was given the deadline less the 2 s rollback
      // reserve, so the answer and the clean-up come before the deadline.
      expect(res.status).toBe(502);
      expect(res.body.error).toEqual({ code: 'engine_unreachable', message: 'engine init: no answer within 1000 ms' });
      await expectNothingLeft(gameId, 'engine_unreachable');
    });

    it('a refused connection is engine_unreachable', async () => {
      const gameId = newGame();
      const res = await register(registerBody(gameId, 'http://127.0.0.1:9/'));
      expect(res.status).toBe(502);
      expect(res.body.error.code).toBe('engine_unreachable');
      await expectNothingLeft(gameId, 'engine_unreachable');
    });
  });

  describe('requests rejected before anything is written', () => {
    it('an unknown engine version is 404 with only the audit entry', async () => {
      const gameId = newGame();
      const res = await register(registerBody(gameId, stack.engine.url, { version: '9.9.9' }));
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: { code: 'engine_version_not_found', message: 'engine version "9.9.9" not found' } });
      await expectNothingLeft(gameId, 'engine_version_not_found');
    });

    it('an invalid request is 400 and audited under its game', async () => {
      const gameId = newGame();
      const res = await register({ ...registerBody(gameId, stack.engine.url), members: [] });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: { code: 'invalid_request', message: 'members must not be empty' } });
      await expectNothingLeft(gameId, 'invalid_request');
    });

    it('a request without a usable game_id is audited under _unidentified', async () => {
      const before = (await stack.tables.query('operationLog', '_unidentified')).length;
      const res = parse(await handler(apiEvent('{"game_id": 42', { raw: true }), lambdaContext()));
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
      const after = await stack.tables.query('operationLog', '_unidentified');
      expect(after.length).toBe(before + 1);
    });

    it('an engine host outside ENGINE_ALLOWED_HOSTS is 400 and the engine is never called', async () => {
      const gameId = newGame();
      const calls = stack.engine.calls.length;
      const res = await register(registerBody(gameId, 'http://galaxy-game-x.evil.example:8080'));
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
      expect(stack.engine.calls.length).toBe(calls);
      await expectNothingLeft(gameId, 'invalid_request');
    });

    it('a body that is not JSON is 400, as JSON, audited under _unidentified', async () => {
      const before = (await stack.tables.query('operationLog', '_unidentified')).length;
      const res = parse(await handler(apiEvent('not json', { raw: true }), lambdaContext()));
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toBe('application/json');
      expect(res.body).toEqual({ error: { code: 'invalid_request', message: 'request body must be a JSON object' } });
      const after = await stack.tables.query('operationLog', '_unidentified');
      expect(after.length).toBe(before + 1);
    });
  });

  describe('the register function never calls EventBridge', () => {
    it.each(['failed-entry', 'http-500', 'hang'] as const)('EventBridge %s: still 201, the outbox item stored, nothing sent by the register function', async (mode) => {
      const gameId = newGame();
      stack.events.mode = mode;
      const before = stack.events.requests;
      const emf = captureEmf();
      try {
        const res = await register(registerBody(gameId, stack.engine.url));
        expect(res.status).toBe(201);
      } finally {
        emf.restore();
        stack.events.mode = 'ok';
      }
      expect(stack.events.requests).toBe(before);
      expect((await rowsOf(gameId)).records[0]?.status).toBe('running');
      expect(await stack.tables.outboxOf(gameId)).toHaveLength(1);
      expect(emf.metrics().filter((m) => m.name === 'lobby_events_published')).toEqual([]);
      expect(emf.metrics().filter((m) => m.name === 'register_runtime_outcomes')).toHaveLength(1);
    });
  });
});
