/**
 * The README's local runs, run as a new user would: every sample of events/
 * answers what the README says, `npm start` registers the sample game for
 * real, `npm run invoke` runs a sample through `serverless invoke local`,
 * `npm run dev` serves the route on http://localhost:3000, and a machine
 * without Java gets one clear line instead of a stack trace.
 *
 * The scripts use fixed loopback ports (the engine on 18080, which the
 * samples name; serverless-offline on 3000/3002), so everything here runs
 * one after the other, in this one file.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalEnvironment, LOCAL_ENGINE_PORT, startLocalEnvironment } from '../../scripts/local-env.ts';
import { httpRoutes } from '../../scripts/routes.ts';
import { lambdaContext } from '../support/harness.ts';
import { coldStart } from '../support/stack.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EVENTS = join(ROOT, 'events');

/**
 * The shell blocks of the `npm run dev` walkthrough (docs/development.md) that call the
 * local endpoint (curl), in order: run as written, they are what a new user
 * types.
 */
function readmeDevCommands(): string[] {
  const readme = readFileSync(join(ROOT, 'docs/development.md'), 'utf8');
  const start = readme.indexOf('### `npm run dev` walkthrough');
  const end = readme.indexOf('**The local endpoint is unauthenticated.**', start);
  expect([start, end].every((i) => i >= 0), 'docs/development.md: the npm run dev walkthrough').toBe(true);
  const blocks = [...readme.slice(start, end).matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] as string);
  return blocks.filter((b) => b.includes('curl '));
}

/** Runs a README shell block with sh; resolves with its output (fails on a non-zero exit). */
function sh(block: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-e', '-c', block], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}:\n${block}\n${out}`))));
  });
}

/** The status line and body of a `curl -i` output. */
function curlAnswer(out: string): { status: number; headers: string; body: any } {
  const [head = '', body = ''] = out.split(/\r?\n\r?\n/, 2);
  return { status: Number(/^HTTP\/[\d.]+ (\d{3})/.exec(head)?.[1]), headers: head.toLowerCase(), body: JSON.parse(body) };
}

/** What each sample answers: the README's table. */
const EXPECTED: Record<string, { status: number; code?: string }> = {
  'register-success.json': { status: 201 },
  'invalid-request.json': { status: 400, code: 'invalid_request' },
  'unknown-engine-version.json': { status: 404, code: 'engine_version_not_found' },
  'conflict.json': { status: 409, code: 'conflict' },
  'engine-failure.json': { status: 502, code: 'engine_unreachable' },
  'engine-validation-error.json': { status: 502, code: 'engine_validation_error' },
  'engine-protocol-violation.json': { status: 502, code: 'engine_protocol_violation' },
  'read-runtime.json': { status: 200 },
  'read-runtime-not-found.json': { status: 404, code: 'runtime_not_found' },
  'read-runtime-invalid.json': { status: 400, code: 'invalid_request' },
  'read-operations.json': { status: 200 },
  'read-operations-invalid-cursor.json': { status: 400, code: 'invalid_request' },
  'read-runtimes-starting.json': { status: 200 },
  'engine-version-put.json': { status: 201 },
  'engine-version-put-same.json': { status: 200 },
  'engine-version-put-conflict.json': { status: 409, code: 'engine_version_exists' },
  'engine-version-put-invalid.json': { status: 400, code: 'invalid_request' },
  'engine-version-get.json': { status: 200 },
  'engine-version-get-not-found.json': { status: 404, code: 'engine_version_not_found' },
  'engine-versions-list.json': { status: 200 },
};

/** What the 2xx samples of the read and admin routes answer (the register sample is checked on its own). */
const EXPECTED_BODY: Record<string, unknown> = {
  'read-runtime.json': expect.objectContaining({
    game_id: 'g-already-running',
    status: 'running',
    players: [expect.objectContaining({ user_id: 'u-1' }), expect.objectContaining({ user_id: 'u-2' })],
  }),
  // The newest entry: conflict.json, run before it here, adds one to the seeded two.
  'read-operations.json': { operations: [expect.objectContaining({ game_id: 'g-already-running', op_kind: 'register_runtime' })], next_cursor: expect.any(String) },
  // Registrations stuck in `starting`: the local environment seeds none.
  'read-runtimes-starting.json': { runtimes: expect.any(Array), next_cursor: null },
  'engine-version-put.json': { version: '1.5.0', image_ref: 'registry.local/galaxy/engine:1.5.0', created_at: expect.any(String) },
  'engine-version-put-same.json': { version: '1.4.2', image_ref: 'registry.local/galaxy/engine:1.4.2', created_at: '2026-11-24T09:00:00.000Z' },
  'engine-version-get.json': { version: '1.4.2', image_ref: 'registry.local/galaxy/engine:1.4.2', created_at: '2026-11-24T09:00:00.000Z' },
  'engine-versions-list.json': { engine_versions: expect.arrayContaining([expect.objectContaining({ version: '1.4.2' })]), next_cursor: null },
};

const isRegisterSample = (file: string) => readEvent(file).routeKey === 'POST /internal/v1/runtimes';

type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

function readEvent(file: string): APIGatewayProxyEventV2 {
  return JSON.parse(readFileSync(join(EVENTS, file), 'utf8')) as APIGatewayProxyEventV2;
}

/** The command line of an npm script of package.json, with its bin resolved to node_modules/.bin. */
function npmScript(name: string): { command: string; args: string[] } {
  const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const line = scripts[name];
  if (!line) throw new Error(`package.json has no "${name}" script`);
  const [bin, ...args] = line.split(/\s+/);
  // The pinned Node (this process's) runs the bin, as `npm run` would.
  return { command: process.execPath, args: [join(ROOT, 'node_modules', '.bin', bin as string), ...args] };
}

/** This process's environment without AWS or Powertools settings of the test setup. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('AWS_') || key.startsWith('POWERTOOLS_') || key.endsWith('_TABLE') || key.startsWith('ENGINE_')) continue;
    env[key] = value;
  }
  return { ...env, POWERTOOLS_LOG_LEVEL: 'WARN', ...extra };
}

interface Run {
  child: ChildProcess;
  output: () => string;
  /** Called after each chunk of output (for waitFor: no polling). */
  onOutput: Set<() => void>;
  exit: Promise<number | null>;
}

function start(name: string, args: string[] = [], env: NodeJS.ProcessEnv = cleanEnv()): Run {
  const script = npmScript(name);
  // Its own process group, so whatever it started can be stopped as a whole.
  const child = spawn(script.command, [...script.args, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  const onOutput = new Set<() => void>();
  const append = (d: Buffer) => {
    output += d.toString();
    for (const listener of onOutput) listener();
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, output: () => output, onOutput, exit };
}

function killGroup(run: Run): void {
  try {
    if (run.child.pid) process.kill(-run.child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

async function finish(run: Run, timeoutMs: number): Promise<number | null> {
  const timer = setTimeout(() => killGroup(run), timeoutMs);
  const code = await run.exit;
  clearTimeout(timer);
  return code;
}

/** Resolves when the output matches (checked on each chunk); fails on exit, or after `timeoutMs` as a safety net. */
async function waitFor(run: Run, pattern: RegExp, timeoutMs: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      run.onOutput.delete(check);
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    };
    const check = () => {
      if (pattern.test(run.output())) done();
    };
    const timer = setTimeout(() => done(new Error(`no ${pattern} within ${timeoutMs} ms:\n${run.output()}`)), timeoutMs);
    void run.exit.then((code) => done(new Error(`exited (${code}) before ${pattern}:\n${run.output()}`)));
    run.onOutput.add(check);
    check();
  });
}

describe('events/: the sample API Gateway events', () => {
  it('has exactly the samples the README lists', () => {
    expect(readdirSync(EVENTS).filter((f) => f.endsWith('.json')).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it('has samples of the read and admin routes, each an HTTP API payload 2.0 event for a route of serverless.yml', () => {
    const routes = httpRoutes().map((r) => r.routeKey);
    const others = Object.keys(EXPECTED).filter((file) => !isRegisterSample(file));
    expect(new Set(others.map((file) => readEvent(file).routeKey))).toEqual(new Set(routes.filter((r) => r !== 'POST /internal/v1/runtimes')));
    for (const file of others) {
      const event = readEvent(file);
      const [method, template] = event.routeKey.split(' ') as [string, string];
      const path = template.replace(/\{(\w+)\}/g, (_, name: string) => event.pathParameters?.[name] ?? '');
      expect(event, file).toMatchObject({ version: '2.0', rawPath: path, isBase64Encoded: false, requestContext: { routeKey: event.routeKey, http: { method, path } } });
      expect(event.rawQueryString, file).toBe(new URLSearchParams((event.queryStringParameters ?? {}) as Record<string, string>).toString());
    }
  });

  it('has register samples, each an HTTP API payload 2.0 event for the route', () => {
    for (const file of Object.keys(EXPECTED).filter(isRegisterSample)) {
      const event = readEvent(file);
      expect(event, file).toMatchObject({
        version: '2.0',
        routeKey: 'POST /internal/v1/runtimes',
        rawPath: '/internal/v1/runtimes',
        isBase64Encoded: false,
        requestContext: { http: { method: 'POST', path: '/internal/v1/runtimes' } },
      });
      expect(event.headers['content-type'], file).toBe('application/json');
      expect(event.headers['x-request-id'], file).toBeTruthy();
      expect(event.requestContext.requestId, file).toBeTruthy();
      expect(typeof event.body, file).toBe('string');
      const body = JSON.parse(event.body as string) as { engine_endpoint?: string };
      // Loopback only: the local engine's fixed port.
      expect(new URL(body.engine_endpoint ?? '').host, file).toBe(`127.0.0.1:${LOCAL_ENGINE_PORT}`);
    }
  });
});

describe('the samples through the real handler on the local environment', () => {
  let local: LocalEnvironment;
  const handlers: Record<string, Handler> = {};
  const saved = { ...process.env };

  beforeAll(async () => {
    local = await startLocalEnvironment();
    Object.assign(process.env, local.env, { POWERTOOLS_LOG_LEVEL: 'SILENT' });
    // Each sample goes to the function serverless.yml routes it to, cold-started
    // through the harness, so every sample's answer is also checked against docs/openapi.yaml.
    for (const route of httpRoutes()) {
      handlers[route.routeKey] = await coldStart<Handler>(`../../${route.handlerModule}`);
    }
  }, 120_000);

  afterAll(async () => {
    await local?.stop();
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  });

  it.each(Object.entries(EXPECTED))('%s answers %j', async (file, expected) => {
    const event = readEvent(file);
    const handler = handlers[event.routeKey] as Handler;
    const response = await handler(event, lambdaContext());
    const body = JSON.parse(response.body ?? '{}') as { error?: { code: string }; game_id?: string; status?: string };
    expect(response.statusCode, response.body).toBe(expected.status);
    if (expected.code) expect(body.error?.code).toBe(expected.code);
    else if (isRegisterSample(file)) expect(body).toMatchObject({ game_id: 'g-7f3a', status: 'running' });
    else expect(body).toEqual(EXPECTED_BODY[file]);
  });
});

describe('npm start, npm run invoke, npm run dev', () => {
  const runs: Run[] = [];
  afterAll(() => {
    for (const run of runs) killGroup(run);
  });

  it('npm start registers the sample game and prints the answer, the rows, and the snapshot event delivered through the relay', async () => {
    const run = start('start');
    runs.push(run);
    const code = await finish(run, 120_000);
    const out = run.output();
    expect(code, out).toBe(0);
    expect(out).toMatch(/waiting for DynamoDB Local|DynamoDB Local answering/);
    expect(out).toContain('=== HTTP response: 201');
    expect(out).toMatch(/=== game-master-local-runtime-records \(2 rows\)/);
    // The new game's rows next to the seeded g-already-running's (2 mappings, 2 entries).
    expect(out).toMatch(/=== game-master-local-player-mappings \(4 rows\)/);
    expect(out).toMatch(/=== game-master-local-operation-log \(3 rows\)/);
    expect(out).toMatch(/=== game-master-local-outbox \(1 row\)/);
    expect(out).toMatch(/publishSnapshots invoked with 1 stream record\(s\) \([^)]+\): all delivered/);
    expect(out).toContain('=== EventBridge PutEvents received (1)');
    expect(out).toContain('"DetailType": "runtime_snapshot_update"');
    // ... then reads the game back through readRuntime.
    expect(out).toContain('=== GET /internal/v1/runtimes/g-7f3a: 200');
    expect(out).toContain('=== GET /internal/v1/runtimes/g-7f3a/operations: 200');
    expect(out).toContain('"engine_player_uuid"');
    expect(out).toContain('[start] stopping the local environment');
  }, 130_000);

  it('npm run invoke runs a sample through serverless invoke local', async () => {
    const run = start('invoke', ['events/engine-failure.json']);
    runs.push(run);
    const code = await finish(run, 150_000);
    const out = run.output();
    expect(code, out).toBe(0);
    expect(out).toMatch(/"statusCode": 502/);
    expect(out).toContain('engine_unreachable');
    expect(out).toContain('[invoke] no new outbox records on the stream (nothing committed, nothing to deliver)');
    expect(out).toContain('[invoke] EventBridge received 0 event(s)');
  }, 160_000);

  it('npm run invoke picks the function a sample of another route belongs to', async () => {
    const run = start('invoke', ['events/engine-version-get.json']);
    runs.push(run);
    const code = await finish(run, 150_000);
    const out = run.output();
    expect(code, out).toBe(0);
    expect(out).toContain('serverless invoke local -f engineVersions -p events/engine-version-get.json');
    expect(out).toMatch(/"statusCode": 200/);
    expect(out).toContain('"image_ref": "registry.local/galaxy/engine:1.4.2"');
  }, 160_000);

  it('npm run dev serves the route on localhost:3000 until interrupted; the README walkthrough works as written', async () => {
    const run = start('dev', [], cleanEnv({ POWERTOOLS_LOG_LEVEL: 'INFO' }));
    runs.push(run);
    await waitFor(run, /Server ready: http:\/\/localhost:3000/, 150_000);
    const [register, keyed, reads, ...rest] = readmeDevCommands();
    expect([register, keyed, reads].every(Boolean) && rest.length === 0, 'README: three curl blocks (register, keyed, reads)').toBe(true);

    // The README's registration: 201, then 409 conflict for the same command again.
    const delivered = waitFor(run, /\[dev\] EventBridge received runtime_snapshot_update: \{"event_id":/, 30_000);
    const first = curlAnswer(await sh(register as string));
    expect([first.status, first.body.status]).toEqual([201, 'running']);
    // The relay the script runs delivers the committed registration's event.
    await delivered;
    const again = curlAnswer(await sh(register as string));
    expect([again.status, again.body.error?.code]).toEqual([409, 'conflict']);

    // The README's keyed registration, twice: the second answer is the first one's, replayed.
    const keyedFirst = curlAnswer(await sh(keyed as string));
    const keyedAgain = curlAnswer(await sh(keyed as string));
    expect(keyedFirst.status, JSON.stringify(keyedFirst.body)).toBe(201);
    expect(keyedFirst.headers).not.toContain('idempotent-replayed');
    expect(keyedAgain.status).toBe(201);
    expect(keyedAgain.headers).toContain('idempotent-replayed: true');
    expect(keyedAgain.body).toEqual(keyedFirst.body);

    // The README's reads and version: every command answers.
    const readsOut = await sh(reads as string);
    expect(readsOut).toContain('"players":');
    expect(readsOut).toContain('"operations":');
    expect(readsOut).toContain('"version":"1.5.0"');

    // The read and admin routes, served from serverless.yml too.
    const record = await fetch('http://localhost:3000/internal/v1/runtimes/g-7f3a');
    expect(record.status).toBe(200);
    expect(((await record.json()) as { players: unknown[] }).players).toHaveLength(2);
    const operations = await fetch('http://localhost:3000/internal/v1/runtimes/g-7f3a/operations?limit=1');
    expect(operations.status).toBe(200);
    expect(((await operations.json()) as { operations: unknown[] }).operations).toHaveLength(1);
    // GET on the register route's path is readRuntime's listing (nothing is stuck here).
    const stuck = await fetch('http://localhost:3000/internal/v1/runtimes?status=starting');
    expect(stuck.status).toBe(200);
    expect(await stuck.json()).toEqual({ runtimes: [], next_cursor: null });
    const put = await fetch('http://localhost:3000/internal/v1/engine-versions/2.0.0', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ image_ref: 'registry.local/galaxy/engine:2.0.0' }),
    });
    expect(put.status).toBe(201);
    const versions = await fetch('http://localhost:3000/internal/v1/engine-versions');
    expect(((await versions.json()) as { engine_versions: { version: string }[] }).engine_versions.map((v) => v.version)).toEqual([
      '1.4.2',
      '1.5.0',
      '2.0.0',
    ]);
    expect((await fetch('http://localhost:3000/internal/v1/runtimes/nope%20x')).status).toBe(400);

    // source_ref: the caller's X-Request-Id, else the request's own id, not serverless-offline's constant placeholder.
    const sourceRefs = async (game: string) => {
      const res = await fetch(`http://localhost:3000/internal/v1/runtimes/${game}/operations`);
      return ((await res.json()) as { operations: { source_ref: string }[] }).operations.map((o) => o.source_ref);
    };
    expect(await sourceRefs('g-7f3a')).toEqual(['lobby-req-1', 'lobby-req-1']);
    const unnamed = [...(await sourceRefs('g-7f3b'))];
    const another = await fetch('http://localhost:3000/internal/v1/runtimes', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        game_id: 'g-7f3c',
        engine_endpoint: 'http://127.0.0.1:18080',
        members: [{ user_id: 'u-1', race_name: 'Zorgons' }],
        target_engine_version: '1.4.2',
        turn_schedule: '0 */6 * * *',
      }),
    });
    expect(another.status).toBe(201);
    unnamed.push(...(await sourceRefs('g-7f3c')));
    expect(unnamed).toHaveLength(2);
    for (const ref of unnamed) expect(ref).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(new Set(unnamed).size).toBe(2);

    // cold_start: true in the first log line of registerRuntime's environment, false in every later one.
    const registerLines = run
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { function_name?: string; function_request_id?: string; cold_start?: boolean })
      .filter((l) => l.function_name?.endsWith('-registerRuntime'));
    const firstInvocation = registerLines[0]?.function_request_id;
    expect(registerLines.length).toBeGreaterThan(2);
    expect(registerLines.map((l) => l.cold_start)).toEqual(registerLines.map((l) => l.function_request_id === firstInvocation));

    // Ctrl-C: the script stops serverless-offline and the environment.
    run.child.kill('SIGINT');
    const code = await finish(run, 30_000);
    expect(code, run.output()).toBe(130);
    expect(run.output()).toContain('[dev] stopping the local environment');
  }, 220_000);

  it('without Java 17+, says so in one line, without a stack trace', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'gm-no-java-'));
    try {
      const run = start('start', [], cleanEnv({ PATH: empty }));
      runs.push(run);
      const code = await finish(run, 60_000);
      const out = run.output().trim();
      expect(code).toBe(1);
      expect(out).toMatch(/^\[start\] DynamoDB Local needs Java 17 or newer/);
      expect(out.split('\n')).toHaveLength(1);
      expect(out).not.toMatch(/\n\s+at /);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  }, 70_000);
});
