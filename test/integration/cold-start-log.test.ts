/**
 * `cold_start` in the Powertools log lines of the source handlers, as the
 * tests and the local runs load them: `true` in the first line of a fresh
 * environment (the first invocation after the module loaded), `false` in
 * every later one. Operators filter on it. Powertools says `true` only when
 * AWS_LAMBDA_INITIALIZATION_TYPE is `on-demand`, as Lambda sets it (the
 * test setup and scripts/local-env.ts set it the same way). The bundles as
 * deployed: test/deploy/bundle-e2e.test.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { apiEvent, lambdaContext, registerBody } from '../support/harness.ts';
import { routeEvent, VERSION_ROUTE } from '../support/http-events.ts';
import { coldStart, type Handler, parse, type Stack, startStack } from '../support/stack.ts';

let stack: Stack;
let counter = 0;

beforeAll(async () => {
  stack = await startStack();
});

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

afterAll(async () => {
  await stack?.close();
});

/** The Powertools log lines (JSON with a `level`) written to stdout while `run` runs. */
async function logLinesOf(run: () => Promise<void>): Promise<Record<string, unknown>[]> {
  const lines: Record<string, unknown>[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
    for (const line of String(chunk).split('\n')) {
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (typeof parsed.level === 'string') lines.push(parsed);
      } catch {
        // not a log line
      }
    }
    return true;
  });
  try {
    await run();
  } finally {
    spy.mockRestore();
  }
  return lines;
}

/** Imports a handler afresh (a new environment) with info lines on. */
async function freshEnvironment(modulePath: string): Promise<Handler> {
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'INFO');
  expect(process.env.AWS_LAMBDA_INITIALIZATION_TYPE).toBe('on-demand');
  return coldStart(modulePath);
}

describe('cold_start in the log lines of a fresh environment', () => {
  it('registerRuntime: true in the first invocation\'s line, false in the next one\'s', async () => {
    const handler = await freshEnvironment('../../functions/register-runtime/handler.ts');
    const game = () => `g-cold-${++counter}`;

    const first = await logLinesOf(async () => {
      expect(parse(await handler(apiEvent(registerBody(game(), stack.engine.url)), lambdaContext())).status).toBe(201);
    });
    const second = await logLinesOf(async () => {
      expect(parse(await handler(apiEvent(registerBody(game(), stack.engine.url)), lambdaContext())).status).toBe(201);
    });

    expect(first.map((l) => [l.message, l.cold_start])).toEqual([['runtime registered', true]]);
    expect(second.map((l) => [l.message, l.cold_start])).toEqual([['runtime registered', false]]);
  });

  it('engineVersions: true in the first invocation\'s line, false in the next one\'s', async () => {
    const handler = await freshEnvironment('../../functions/engine-versions/handler.ts');
    const put = (version: string) =>
      handler(routeEvent('PUT', VERSION_ROUTE, { params: { version }, body: JSON.stringify({ image_ref: `registry.local/galaxy/engine:${version}` }) }), lambdaContext());

    const first = await logLinesOf(async () => {
      expect(parse(await put(`3.0.${++counter}`)).status).toBe(201);
    });
    const second = await logLinesOf(async () => {
      expect(parse(await put(`3.0.${++counter}`)).status).toBe(201);
    });

    expect(first.length).toBeGreaterThan(0);
    expect(first[0]?.cold_start).toBe(true);
    expect(second.length).toBeGreaterThan(0);
    expect(second.every((l) => l.cold_start === false)).toBe(true);
  });
});
