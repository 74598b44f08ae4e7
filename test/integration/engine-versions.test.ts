/**
 * engineVersions through its cold-started handler on DynamoDB Local, every
 * request passing a loopback proxy (test/support/dynamo-proxy.ts) that
 * counts store requests and puts the store at fault on demand. Each case
 * checks the answer and the rows left in the engine-versions table.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { encodeCursor } from '../../lib/domain/cursor.ts';
import { ERROR_STATUS } from '../../lib/http/errors.ts';
import { OPERATIONS_ROUTE as OPERATIONS_CURSOR_ROUTE } from '../../lib/read-runtime/read-runtime.ts';
import { type DynamoProxy, requestIs, startDynamoProxy } from '../support/dynamo-proxy.ts';
import { lambdaContext } from '../support/harness.ts';
import { routeEvent, VERSION_ROUTE, VERSIONS_ROUTE } from '../support/http-events.ts';
import { coldStart, type Handler, parse, SEEDED_IMAGE, SEEDED_VERSION, type Stack, startStack } from '../support/stack.ts';

let stack: Stack;
let proxy: DynamoProxy;
let handler: Handler;
let logInfo: { mock: { calls: unknown[][] }; mockClear(): void };
let counter = 0;
const newVersion = () => `9.${++counter}.0-ev`;

beforeAll(async () => {
  proxy = await startDynamoProxy(inject('dynamoEndpoint'));
  stack = await startStack({ AWS_ENDPOINT_URL_DYNAMODB: proxy.url });
  handler = await coldStart('../../functions/engine-versions/handler.ts');
  // The handler's own logger (the module instance its cold start loaded).
  const { logger } = await import('../../lib/powertools.ts');
  logInfo = vi.spyOn(logger, 'info');
});

afterEach(() => {
  proxy.clearFaults();
  logInfo.mockClear();
});

afterAll(async () => {
  await proxy?.close();
  await stack?.close();
});

const put = async (version: string, body: unknown, options: { raw?: boolean; base64?: boolean; headers?: Record<string, string> } = {}) => {
  const text = options.raw ? (body as string) : JSON.stringify(body);
  return parse(
    await handler(
      routeEvent('PUT', VERSION_ROUTE, {
        params: { version },
        body: options.base64 ? Buffer.from(text).toString('base64') : text,
        isBase64Encoded: options.base64 ?? false,
        headers: options.headers ?? {},
      }),
      lambdaContext(),
    ),
  );
};
const getOne = async (version: string) => parse(await handler(routeEvent('GET', VERSION_ROUTE, { params: { version } }), lambdaContext()));
const list = async (query?: Record<string, string>) => parse(await handler(routeEvent('GET', VERSIONS_ROUTE, query ? { query } : {}), lambdaContext()));

async function stored(version: string) {
  const res = await stack.tables.doc.send(new GetCommand({ TableName: stack.tables.names.engineVersions, Key: { version }, ConsistentRead: true }));
  return res.Item;
}

async function storeRequestsDuring(run: () => Promise<unknown>): Promise<number> {
  const before = proxy.requests.length;
  await run();
  return proxy.requests.length - before;
}

function expectInvalid(res: { status: number; body: any }, name: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(400);
  expect(res.body.error.code).toBe('invalid_request');
  expect(res.body.error.message.startsWith(`${name} `), res.body.error.message).toBe(true);
}

describe('PUT /internal/v1/engine-versions/{version}', () => {
  it('creates the version: 201 with the item written, and one info log line', async () => {
    const version = newVersion();
    const res = await put(version, { image_ref: 'registry.local/galaxy/engine@sha256:abc' }, { headers: { 'X-Request-Id': 'release-42' } });
    expect(res.status).toBe(201);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.body).toEqual({ version, image_ref: 'registry.local/galaxy/engine@sha256:abc', created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) });
    expect(await stored(version)).toEqual(res.body);
    expect(logInfo.mock.calls.filter(([message]: unknown[]) => message === 'engine version created')).toEqual([
      ['engine version created', { version, image_ref: 'registry.local/galaxy/engine@sha256:abc', source_ref: 'release-42' }],
    ]);
  });

  it('answers a retried release (same image) 200 with the stored item, unchanged, and logs nothing', async () => {
    const version = newVersion();
    const first = await put(version, { image_ref: 'img:1' });
    logInfo.mockClear();
    const again = await put(version, { image_ref: 'img:1' });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await stored(version)).toEqual(first.body);
    expect(logInfo.mock.calls.filter(([message]: unknown[]) => message === 'engine version created')).toEqual([]);
  });

  it('answers 409 engine_version_exists for another image and changes nothing', async () => {
    const version = '1.4.2-x';
    const first = await put(version, { image_ref: 'img:a' });
    expect(first.status).toBe(201);
    const res = await put(version, { image_ref: 'img:b' });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ error: { code: 'engine_version_exists', message: 'engine version "1.4.2-x" already names another image' } });
    expect(await stored(version)).toEqual(first.body);
  });

  it('answers 200 with created_at null for a version written by hand before the route existed', async () => {
    const res = await put(SEEDED_VERSION, { image_ref: SEEDED_IMAGE });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ version: SEEDED_VERSION, image_ref: SEEDED_IMAGE, created_at: null });
    expect(await stored(SEEDED_VERSION)).toEqual({ version: SEEDED_VERSION, image_ref: SEEDED_IMAGE });
  });

  it('takes a base64 body and ignores unknown fields', async () => {
    const version = newVersion();
    const res = await put(version, { image_ref: 'img:b64', note: 'ignored', __proto__: { x: 1 } }, { base64: true });
    expect(res.status).toBe(201);
    expect(await stored(version)).toEqual({ version, image_ref: 'img:b64', created_at: res.body.created_at });
  });

  it.each(['1.4.2 ', '1/4', 'v_1', 'é', 'a'.repeat(65)])('answers 400 naming version for %j, writing nothing', async (version) => {
    let res: any;
    const requests = await storeRequestsDuring(async () => {
      res = await put(version, { image_ref: 'img:1' });
    });
    expectInvalid(res, 'version');
    expect(requests).toBe(0);
  });

  it.each([
    ['not JSON', '{', 'request body'],
    ['an array', '[]', 'request body'],
    ['empty', '', 'request body'],
    ['too large', JSON.stringify({ image_ref: 'img:1', pad: 'x'.repeat(262_144) }), 'request body'],
    ['no image_ref', '{}', 'image_ref'],
    ['image_ref null', '{"image_ref":null}', 'image_ref'],
    ['image_ref a number', '{"image_ref":7}', 'image_ref'],
    ['image_ref empty', '{"image_ref":""}', 'image_ref'],
    ['image_ref with a space', '{"image_ref":"img 1"}', 'image_ref'],
    ['image_ref non-ASCII', '{"image_ref":"imgé"}', 'image_ref'],
    ['image_ref 513 characters', JSON.stringify({ image_ref: 'i'.repeat(513) }), 'image_ref'],
  ])('answers 400 for a body %s, naming %s, writing nothing', async (_, body, name) => {
    const version = newVersion();
    let res: any;
    const requests = await storeRequestsDuring(async () => {
      res = await put(version, body, { raw: true });
    });
    expectInvalid(res, name);
    expect(requests).toBe(0);
    expect(await stored(version)).toBeUndefined();
  });

  it('accepts an image_ref of exactly 512 characters', async () => {
    const version = newVersion();
    expect((await put(version, { image_ref: '!~'.repeat(256) })).status).toBe(201);
  });

  it('answers 503 naming the step when the put fails, and writes nothing', async () => {
    const version = newVersion();
    proxy.fault({ match: requestIs({ op: 'PutItem', table: stack.tables.names.engineVersions }), mode: 'internal-error' });
    const res = await put(version, { image_ref: 'img:1' });
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ error: { code: 'service_unavailable', message: 'put engine version: store request failed' } });
    proxy.clearFaults();
    expect(await stored(version)).toBeUndefined();
  });
});

describe('GET /internal/v1/engine-versions/{version}', () => {
  it('answers 200 with the item', async () => {
    const version = newVersion();
    const created = await put(version, { image_ref: 'img:get' });
    const res = await getOne(version);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(created.body);
  });

  it('answers 404 engine_version_not_found', async () => {
    const res = await getOne('x');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'engine_version_not_found', message: 'engine version "x" not found' } });
  });

  it('answers 400 naming version for a malformed one', async () => {
    expectInvalid(await getOne('1 4'), 'version');
  });

  it('answers 503 naming the step when the read fails', async () => {
    proxy.fault({ match: requestIs({ op: 'GetItem', table: stack.tables.names.engineVersions }), mode: 'throttle' });
    const res = await getOne(SEEDED_VERSION);
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ error: { code: 'service_unavailable', message: 'get engine version: store request failed' } });
  });
});

describe('GET /internal/v1/engine-versions', () => {
  /** Every version, following the cursors with this limit; checks each page's order. */
  async function walk(limit?: number): Promise<{ versions: string[]; pages: number }> {
    const versions: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await list({ ...(limit ? { limit: String(limit) } : {}), ...(cursor ? { cursor } : {}) });
      expect(res.status).toBe(200);
      const page = res.body.engine_versions.map((v: any) => v.version) as string[];
      if (limit) expect(page.length).toBeLessThanOrEqual(limit);
      expect(page).toEqual([...page].sort());
      versions.push(...page);
      cursor = res.body.next_cursor ?? undefined;
      pages++;
    } while (cursor !== undefined);
    return { versions, pages };
  }

  it('lists every version exactly once across pages, each page by version string, for limits 1 to 3 and the default', async () => {
    for (let i = 0; i < 7; i++) await put(`7.${i}.0-list`, { image_ref: `img:list-${i}` });
    const all = (await stack.tables.scan('engineVersions')).map((item) => String(item.version)).sort();
    expect(all.length).toBeGreaterThanOrEqual(8);
    for (const limit of [1, 2, 3]) {
      const { versions, pages } = await walk(limit);
      expect([...versions].sort()).toEqual(all);
      expect(pages).toBe(Math.ceil(all.length / limit));
    }
    const whole = await list();
    expect(whole.body.next_cursor).toBeNull();
    expect(whole.body.engine_versions.map((v: any) => v.version)).toEqual(all);
    expect(whole.body.engine_versions.find((v: any) => v.version === SEEDED_VERSION)).toEqual({ version: SEEDED_VERSION, image_ref: SEEDED_IMAGE, created_at: null });
  });

  it.each(['0', '101', 'x', '', '50.0', '-3'])('answers 400 naming limit for limit=%j', async (limit) => {
    expectInvalid(await list({ limit }), 'limit');
  });

  it('refuses altered, truncated, other-route and garbage cursors with 400 naming cursor, before any store request', async () => {
    const cursor = (await list({ limit: '1' })).body.next_cursor as string;
    const [payload, digest] = cursor.split('.') as [string, string];
    const bad = {
      altered: `${payload}.${digest.startsWith('A') ? 'B' : 'A'}${digest.slice(1)}`,
      truncated: cursor.slice(0, cursor.length - 2),
      'other route': encodeCursor({ route: OPERATIONS_CURSOR_ROUTE, gameId: 'g-1' }, '2026-12-03T08:00:00.000Z#00'),
      'a key of another shape': encodeCursor({ route: 'GET /internal/v1/engine-versions' }, 'not a version'),
      garbage: 'garbage',
    };
    for (const [label, value] of Object.entries(bad)) {
      let res: any;
      const requests = await storeRequestsDuring(async () => {
        res = await list({ cursor: value });
      });
      expectInvalid(res, 'cursor');
      expect(requests, label).toBe(0);
    }
  });

  it('answers 503 naming the step when the scan fails', async () => {
    proxy.fault({ match: requestIs({ op: 'Scan', table: stack.tables.names.engineVersions }), mode: 'internal-error' });
    const res = await list();
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ error: { code: 'service_unavailable', message: 'scan engine versions: store request failed' } });
  });
});

describe('routes the function does not serve', () => {
  it.each([
    ['DELETE', '/internal/v1/engine-versions/1.4.2'],
    ['POST', '/internal/v1/engine-versions'],
    ['GET', '/internal/v1/runtimes/g-1'],
  ])('answers 404 route_not_found to %s %s', async (method, path) => {
    const res = parse(await handler(routeEvent(method, path), lambdaContext()));
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('route_not_found');
  });
});

describe('hostile path, query and body input', () => {
  it('never answers 500, and leaves the seeded version naming its image', async () => {
    const text = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.constantFrom('%2F', '..', 'x'.repeat(5000), '\u0000', '\ud800', '__proto__', '1.4.2'),
    );
    const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(['PUT', VERSION_ROUTE], ['GET', VERSION_ROUTE], ['GET', VERSIONS_ROUTE]),
        maybe(text),
        fc.option(fc.record({ limit: maybe(text), cursor: maybe(text) }, { requiredKeys: [] }), { nil: null }),
        fc.oneof(text, fc.json(), fc.record({ image_ref: text }).map((b) => JSON.stringify(b))),
        fc.boolean(),
        async ([method, template], version, query, body, base64) => {
          const event = routeEvent(method as string, template as string, {
            params: version === undefined ? {} : { version },
            body: base64 ? Buffer.from(body).toString('base64') : body,
            isBase64Encoded: base64,
          });
          (event as any).queryStringParameters = query === null ? null : Object.fromEntries(Object.entries(query).filter(([, v]) => v !== undefined));
          const res = await handler(event, lambdaContext());
          const answer = JSON.parse(String(res.body));
          expect([200, 201, 400, 404, 409]).toContain(res.statusCode);
          if ((res.statusCode ?? 0) >= 400) expect(ERROR_STATUS[answer.error.code as keyof typeof ERROR_STATUS]).toBe(res.statusCode);
        },
      ),
      { numRuns: 300 },
    );
    // The seeded version still names its image.
    expect(await stored(SEEDED_VERSION)).toEqual({ version: SEEDED_VERSION, image_ref: SEEDED_IMAGE });
  });
});

