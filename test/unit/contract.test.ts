/**
 * The published contract (docs/openapi.yaml, docs/events/*.schema.json) is
 * well-formed, agrees with the code's lists, describes every sample in
 * events/, and the oracle built on it (test/support/contract.ts) can fail.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../lib/domain/errors.ts';
import { ERROR_STATUS } from '../../lib/http/errors.ts';
import { ABANDONED_CODE } from '../../lib/reconcile-starting/reconcile-starting.ts';
import {
  answeredByApiGateway,
  answerProblems,
  apiGatewayAnswers,
  checkAnswer,
  compileAt,
  contract,
  documentedAnswers,
  findOperation,
  handlerOnlyErrors,
  operations,
  type RequestEvent,
  requestBodyProblems,
  requestProblems,
  resolve,
  snapshotDetailProblems,
  snapshotSchemaProblems,
} from '../support/contract.ts';
import { SPEC_ROUTE_KEYS } from '../support/http-events.ts';

const EVENTS_DIR = fileURLToPath(new URL('../../events/', import.meta.url));
/**
 * Samples of invalid requests (a body, path or query parameter or header
 * outside the document): each must FAIL the request validation; every other
 * sample must pass it. Add a new invalid sample here.
 */
const INVALID_REQUEST_SAMPLES = new Set(['invalid-request.json', 'engine-version-put-invalid.json', 'read-runtime-invalid.json']);

type Obj = Record<string, any>;

const RECORD = {
  game_id: 'g-7f3a',
  status: 'running',
  engine_endpoint: 'http://galaxy-game-g-7f3a:8080',
  current_image_ref: 'registry.local/galaxy/engine:1.4.2',
  current_engine_version: '1.4.2',
  turn_schedule: '0 */6 * * *',
  current_turn: 0,
  next_generation_at: '2026-11-24T12:00:00.000Z',
  skip_next_tick: false,
  engine_health: '',
  created_at: '2026-11-24T10:00:00.000Z',
  updated_at: '2026-11-24T10:00:00.000Z',
};
const JSON_TYPE = { 'Content-Type': 'application/json' };
const answer = (statusCode: number, body: unknown, headers: Record<string, string> = JSON_TYPE) => ({
  statusCode,
  headers,
  body: JSON.stringify(body),
});
const error = (code: string, message = 'm') => ({ error: { code, message } });

/** Every response of every operation, resolved. */
function responses(): { where: string; status: string; response: Obj; method: string; template: string }[] {
  return operations().flatMap((op) =>
    Object.entries(op.operation.responses as Obj).map(([status, raw]) => ({
      where: `${op.method} ${op.template} ${status}`,
      status,
      response: resolve(raw) as Obj,
      method: op.method,
      template: op.template,
    })),
  );
}

/** The error codes a response can carry (its schema's `error.code` enum). */
function codesOf(response: Obj): string[] {
  const schema = response.content?.['application/json']?.schema;
  return schema?.properties?.error?.properties?.code?.enum ?? [];
}

describe('the documents', () => {
  it('the event schema is a valid JSON Schema 2020-12 document and its example conforms', () => {
    const { snapshotSchema } = contract();
    expect(snapshotSchema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    const ajv = new Ajv2020({ strict: true, validateFormats: false });
    expect(ajv.validateSchema(snapshotSchema), JSON.stringify(ajv.errors)).toBe(true);
    for (const example of snapshotSchema.examples as unknown[]) expect(snapshotDetailProblems(example)).toEqual([]);
  });

  it('the event schema has the fields of the spec', () => {
    const { snapshotSchema } = contract();
    expect(Object.keys(snapshotSchema.properties as Obj).sort()).toEqual(
      ['event_id', 'game_id', 'current_turn', 'runtime_status', 'engine_health_summary', 'occurred_at', 'player_turn_stats'].sort(),
    );
  });

  it('the event schema is open: an event with fields it does not know validates (the event grows by adding fields)', () => {
    const { snapshotSchema } = contract();
    const example = (snapshotSchema.examples as Obj[])[0]!;
    const grown = {
      ...example,
      new_field: { any: 'shape' },
      player_turn_stats: example.player_turn_stats.map((p: Obj) => ({ ...p, ships: 4 })),
    };
    expect(snapshotSchemaProblems(grown)).toEqual([]);
    // A strict consumer's validator (ajv with the schema as published) accepts it too.
    const ajv = new Ajv2020({ strict: true, validateFormats: false });
    expect(ajv.validate(snapshotSchema, grown), JSON.stringify(ajv.errors)).toBe(true);
    // ... while a documented field with a wrong value still fails.
    expect(snapshotSchemaProblems({ ...grown, current_turn: -1 })).not.toEqual([]);
  });

  it('the emitted-event check (the EventBridge double) still refuses a field the document does not list', () => {
    const example = (contract().snapshotSchema.examples as Obj[])[0]!;
    expect(snapshotDetailProblems(example)).toEqual([]);
    expect(snapshotDetailProblems({ ...example, extra: 1 })).toEqual(['Detail has the undocumented field extra']);
    expect(snapshotDetailProblems({ ...example, player_turn_stats: [{ user_id: 'u-1', planets: 1, population: 1, ships: 2 }] })).toEqual([
      'Detail/player_turn_stats/0 has the undocumented field ships',
    ]);
  });

  it('the OpenAPI document refers to the event schema by a path that exists', () => {
    const events = contract().doc['x-eventbridge-events'] as Obj;
    expect(events.runtime_snapshot_update.detail.$ref).toBe('./events/runtime_snapshot_update.schema.json');
  });

  it('documents the six routes of the spec', () => {
    expect(operations().map((op) => `${op.method} ${op.template}`).sort()).toEqual(
      [...SPEC_ROUTE_KEYS].sort(),
    );
  });

  it('every answer has an example, every example conforms to its schema, and every JSON answer is closed', () => {
    for (const { where, response, method, template, status } of responses()) {
      const media = response.content?.['application/json'];
      expect(media, `${where}: application/json`).toBeDefined();
      const examples = Object.values(media.examples ?? {}) as Obj[];
      expect(examples.length, `${where}: examples`).toBeGreaterThan(0);
      const validate = compileAt(`${method} ${template} ${status} application/json`, media.schema);
      for (const example of examples) expect(validate(example.value), `${where}: ${JSON.stringify(validate.errors)}`).toBe(true);
      expect(validate({ ...examples[0]!.value, unexpected: true }), `${where}: accepts an undocumented field`).toBe(false);
    }
  });
});

describe("API Gateway's own answers (403, unrouted 404)", () => {
  it('every route documents 403 with API Gateway\'s {"message"} body, marked x-answered-by: api-gateway', () => {
    for (const op of operations()) {
      const response = resolve((op.operation.responses as Obj)['403']) as Obj;
      expect(response, `${op.method} ${op.template} 403`).toBeDefined();
      expect(answeredByApiGateway(response), `${op.method} ${op.template} 403`).toBe(true);
      const media = response.content['application/json'];
      const validate = compileAt(`${op.method} ${op.template} 403 application/json`, media.schema);
      expect(validate({ message: 'Forbidden' })).toBe(true);
      // Not the error shape of Game Master: API Gateway's answer has no code.
      expect(validate({ error: { code: 'forbidden', message: 'Forbidden' } })).toBe(false);
    }
  });

  it('x-api-gateway-answers lists the 403 and the unrouted 404 {"message":"Not Found"}, both marked, with examples that conform', () => {
    const answers = apiGatewayAnswers();
    expect(answers.map((a) => a.status)).toEqual([403, 404]);
    for (const { status, response } of answers) {
      expect(answeredByApiGateway(response), String(status)).toBe(true);
      const media = (response.content as Obj)['application/json'];
      const validate = compileAt(`x-api-gateway-answers ${status}`, media.schema);
      for (const example of Object.values(media.examples) as Obj[]) expect(validate(example.value), String(status)).toBe(true);
    }
    const notFound = Object.values((answers[1]!.response.content as Obj)['application/json'].examples) as Obj[];
    expect(notFound.map((e) => e.value)).toEqual([{ message: 'Not Found' }]);
  });

  it("the document says what npm run dev answers instead (serverless-offline's body, never 403)", () => {
    const description = String((contract().doc.info as Obj).description);
    expect(description).toMatch(/npm run dev/);
    expect(description).toMatch(/Serverless-offline: ?\s*route not found/);
  });

  it("the oracle refuses API Gateway's 403 from a function, and does not count it as an answer tests must produce", () => {
    const forbidden = answer(403, { message: 'Forbidden' });
    expect(() => checkAnswer('POST', '/internal/v1/runtimes', forbidden)).toThrow(/API Gateway's own answer/);
    expect(documentedAnswers().filter((key) => / 403/.test(key))).toEqual([]);
  });
});

describe('the document and the code agree', () => {
  it('the ErrorCode enum is exactly the code list of lib/domain/errors.ts', () => {
    expect([...(contract().doc.components as Obj).schemas.ErrorCode.enum].sort()).toEqual([...ERROR_CODES].sort());
  });

  it('every code of ERROR_STATUS is answered with its status by some route (or is a documented handler-only error)', () => {
    const documented = new Set(responses().flatMap(({ status, response }) => codesOf(response).map((code) => `${code} ${status}`)));
    for (const e of handlerOnlyErrors()) documented.add(`${e.code} ${e.status}`);
    for (const [code, status] of Object.entries(ERROR_STATUS)) expect(documented, code).toContain(`${code} ${status}`);
    // ... and the document answers no code with another status than the table's.
    for (const entry of documented) {
      const [code, status] = entry.split(' ') as [keyof typeof ERROR_STATUS, string];
      expect(ERROR_STATUS[code], entry).toBe(Number(status));
    }
  });

  it('the operation-log error codes are the registration codes of the register route, the reconciler code, and "" for success', () => {
    const register = responses()
      .filter((r) => r.method === 'POST' && r.template === '/internal/v1/runtimes')
      .flatMap((r) => codesOf(r.response))
      // A replay, a 422 and a request_in_progress are not registrations: they write no entry.
      .filter((code) => code !== 'request_in_progress' && code !== 'idempotency_key_reused');
    const documented = (contract().doc.components as Obj).schemas.Operation.properties.error_code.enum as string[];
    expect([...documented].sort()).toEqual(['', ABANDONED_CODE, ...register].sort());
  });

  it('route_not_found is documented as handler-only, not on any route (API Gateway answers unrouted requests)', () => {
    expect(handlerOnlyErrors()).toEqual([{ code: 'route_not_found', status: 404 }]);
    expect(responses().flatMap(({ response }) => codesOf(response))).not.toContain('route_not_found');
  });
});

describe('the samples in events/', () => {
  const samples = readdirSync(EVENTS_DIR).filter((f) => f.endsWith('.json'));

  it('there are samples, and every listed invalid sample exists', () => {
    expect(samples.length).toBeGreaterThan(0);
    for (const name of INVALID_REQUEST_SAMPLES) expect(samples).toContain(name);
  });

  it.each(samples)('%s: its route is documented and the request matches (or, if listed invalid, fails) the document', (name) => {
    const event = JSON.parse(readFileSync(`${EVENTS_DIR}${name}`, 'utf8')) as Obj;
    const method = event.requestContext.http.method as string;
    const op = findOperation(method, event.rawPath);
    expect(op, `${method} ${event.rawPath}`).toBeDefined();
    expect(event.routeKey).toBe(`${op!.method} ${op!.template}`);
    const problems = requestProblems(event as RequestEvent);
    if (INVALID_REQUEST_SAMPLES.has(name)) expect(problems, 'an invalid sample passes the request schema').not.toEqual([]);
    else expect(problems).toEqual([]);
  });
});

describe('checkAnswer (the guard itself fails when it should)', () => {
  it('accepts a conforming answer', () => {
    expect(answerProblems('POST', '/internal/v1/runtimes', answer(201, RECORD))).toEqual([]);
    expect(
      answerProblems('POST', '/internal/v1/runtimes', answer(201, RECORD, { 'content-type': 'application/json', 'idempotent-replayed': 'true' })),
    ).toEqual([]);
    expect(
      answerProblems('POST', '/internal/v1/runtimes', answer(409, error('request_in_progress'), { ...JSON_TYPE, 'Retry-After': '3' })),
    ).toEqual([]);
    expect(answerProblems('GET', '/internal/v1/runtimes/g-1', answer(200, { ...RECORD, players: [] }))).toEqual([]);
    expect(answerProblems('GET', '/internal/v1/runtimes/g-1/operations', answer(200, { operations: [], next_cursor: null }))).toEqual([]);
  });

  it('rejects an answer with a field the document does not have', () => {
    expect(() => checkAnswer('POST', '/internal/v1/runtimes', answer(201, { ...RECORD, op_id: 'x' }))).toThrow(/op_id/);
    expect(() => checkAnswer('POST', '/internal/v1/runtimes', answer(400, { error: { code: 'invalid_request', message: 'm', field: 'x' } }))).toThrow(
      /field/,
    );
  });

  it('rejects an answer that lacks a field, or carries a wrong type or a value outside its range', () => {
    const { engine_health: _, ...missing } = RECORD;
    expect(() => checkAnswer('POST', '/internal/v1/runtimes', answer(201, missing))).toThrow(/engine_health/);
    expect(() => checkAnswer('POST', '/internal/v1/runtimes', answer(201, { ...RECORD, current_turn: -1 }))).toThrow(/current_turn/);
    expect(() => checkAnswer('POST', '/internal/v1/runtimes', answer(201, { ...RECORD, status: 'stopped' }))).toThrow(/status/);
  });

  it('rejects a status the route does not document, and a code the status does not carry', () => {
    expect(() => checkAnswer('POST', '/internal/v1/runtimes', answer(200, RECORD))).toThrow(/status 200 is not documented/);
    expect(() => checkAnswer('GET', '/internal/v1/runtimes/g-1/operations', answer(404, error('runtime_not_found')))).toThrow(/404/);
    expect(() => checkAnswer('POST', '/internal/v1/runtimes', answer(409, error('engine_version_exists')))).toThrow(/code/);
    expect(() => checkAnswer('POST', '/internal/v1/runtimes', answer(502, error('service_unavailable')))).toThrow(/code/);
  });

  it('rejects a missing required header, a header on the wrong code, an undocumented header and a wrong Content-Type', () => {
    expect(() => checkAnswer('POST', '/internal/v1/runtimes', answer(409, error('request_in_progress')))).toThrow(/required header retry-after/);
    expect(() => checkAnswer('POST', '/internal/v1/runtimes', answer(409, error('conflict'), { ...JSON_TYPE, 'Retry-After': '3' }))).toThrow(
      /retry-after/,
    );
    expect(() =>
      checkAnswer('POST', '/internal/v1/runtimes', answer(409, error('request_in_progress'), { ...JSON_TYPE, 'Retry-After': 'soon' })),
    ).toThrow(/retry-after/);
    expect(() => checkAnswer('POST', '/internal/v1/runtimes', answer(201, RECORD, { ...JSON_TYPE, 'X-Debug': '1' }))).toThrow(/x-debug/);
    expect(() => checkAnswer('POST', '/internal/v1/runtimes', answer(201, RECORD, { 'Content-Type': 'text/plain' }))).toThrow(/Content-Type/);
    expect(() => checkAnswer('POST', '/internal/v1/runtimes', answer(201, RECORD, {}))).toThrow(/Content-Type/);
  });

  it('accepts only route_not_found 404 for a request no route serves', () => {
    expect(answerProblems('DELETE', '/internal/v1/runtimes/g-1', answer(404, error('route_not_found')))).toEqual([]);
    expect(answerProblems('GET', '/internal/v1/nowhere', answer(404, error('route_not_found')))).toEqual([]);
    expect(() => checkAnswer('GET', '/internal/v1/nowhere', answer(400, error('invalid_request')))).toThrow(/no documented route/);
    expect(() => checkAnswer('GET', '/internal/v1/nowhere', answer(404, { error: { code: 'route_not_found', message: 'm', x: 1 } }))).toThrow(/x/);
  });

  it('routes a concrete path to its template, the literal template first', () => {
    expect(findOperation('GET', '/internal/v1/runtimes/g-1')?.template).toBe('/internal/v1/runtimes/{game_id}');
    expect(findOperation('GET', '/internal/v1/runtimes/g-1/operations')?.template).toBe('/internal/v1/runtimes/{game_id}/operations');
    expect(findOperation('GET', '/internal/v1/engine-versions')?.template).toBe('/internal/v1/engine-versions');
    expect(findOperation('PUT', '/internal/v1/engine-versions/1.4.2')?.template).toBe('/internal/v1/engine-versions/{version}');
    expect(findOperation('POST', '/internal/v1/runtimes/g-1')).toBeUndefined();
  });
});

describe('requestProblems (whole requests: parameters, headers, body)', () => {
  const get = (rawPath: string, rawQueryString = '', headers: Record<string, string> = {}): RequestEvent => ({
    rawPath,
    rawQueryString,
    headers,
    requestContext: { http: { method: 'GET' } },
  });

  it('accepts conforming reads, and _unidentified only on the operations route', () => {
    expect(requestProblems(get('/internal/v1/runtimes/g-1'))).toEqual([]);
    expect(requestProblems(get('/internal/v1/runtimes/_unidentified/operations', 'limit=100&cursor=abc'))).toEqual([]);
    expect(requestProblems(get('/internal/v1/runtimes/_unidentified'))).not.toEqual([]);
    expect(requestProblems(get('/internal/v1/engine-versions', 'limit=1'))).toEqual([]);
  });

  it.each([
    ['a game id out of its character set', get('/internal/v1/runtimes/g%20x')],
    ['limit 0', get('/internal/v1/runtimes/g-1/operations', 'limit=0')],
    ['limit 101', get('/internal/v1/engine-versions', 'limit=101')],
    ['limit not a number', get('/internal/v1/engine-versions', 'limit=ten')],
    ['an empty cursor', get('/internal/v1/engine-versions', 'cursor=')],
    ['a version with a space', get('/internal/v1/engine-versions/1.4%202')],
  ])('rejects %s', (_name, event) => {
    expect(requestProblems(event)).not.toEqual([]);
  });

  it('checks the Idempotency-Key header of the register route', () => {
    const post = (key: string): RequestEvent => ({
      rawPath: '/internal/v1/runtimes',
      headers: { 'idempotency-key': key },
      body: JSON.stringify({
        game_id: 'g-1',
        engine_endpoint: 'http://galaxy-game-1:8080',
        members: [{ user_id: 'u-1', race_name: 'Zorgons' }],
        target_engine_version: '1.4.2',
        turn_schedule: '0 * * * *',
      }),
      requestContext: { http: { method: 'POST' } },
    });
    expect(requestProblems(post('k-1'))).toEqual([]);
    expect(requestProblems(post('k'.repeat(256)))).not.toEqual([]);
    expect(requestProblems(post('k\u00e9'))).not.toEqual([]);
  });
});

describe('request schemas carry the limits of the spec', () => {
  const valid = {
    game_id: 'g-7f3a',
    engine_endpoint: 'http://galaxy-game-g-7f3a:8080',
    members: [{ user_id: 'u-1', race_name: 'Zorgons' }],
    target_engine_version: '1.4.2',
    turn_schedule: '0 */6 * * *',
  };
  const problems = (body: unknown) => requestBodyProblems('POST', '/internal/v1/runtimes', body);

  it('accepts a valid body with unknown fields (they are ignored)', () => {
    expect(problems({ ...valid, extra: 1, members: [{ user_id: 'u-1', race_name: 'Zorgons', x: 1 }] })).toEqual([]);
  });

  it.each([
    ['game_id over 128', { game_id: `g${'x'.repeat(128)}` }],
    ['game_id not starting with a letter or digit', { game_id: '-g' }],
    ['race_name with a control character', { members: [{ user_id: 'u-1', race_name: 'Zor\u0085gons' }] }],
    ['race_name over 64', { members: [{ user_id: 'u-1', race_name: 'r'.repeat(65) }] }],
    ['501 members', { members: Array.from({ length: 501 }, (_, i) => ({ user_id: `u-${i}`, race_name: `r${i}` })) }],
    ['no members', { members: [] }],
    ['version with a space', { target_engine_version: '1.4 2' }],
    ['schedule over 128', { turn_schedule: '*'.repeat(129) }],
    ['endpoint over 2048', { engine_endpoint: `http://h/${'p'.repeat(2048)}` }],
    ['endpoint not http(s)', { engine_endpoint: 'ftp://galaxy-game-1' }],
  ])('rejects %s', (_name, change) => {
    expect(problems({ ...valid, ...change })).not.toEqual([]);
  });

  it('PUT engine version: image_ref is 1 to 512 printable ASCII characters without space', () => {
    const put = (body: unknown) => requestBodyProblems('PUT', '/internal/v1/engine-versions/1.4.2', body);
    expect(put({ image_ref: 'registry.local/galaxy/engine:1.4.2' })).toEqual([]);
    expect(put({ image_ref: 'a b' })).not.toEqual([]);
    expect(put({ image_ref: 'x'.repeat(513) })).not.toEqual([]);
    expect(put({})).not.toEqual([]);
  });
});
