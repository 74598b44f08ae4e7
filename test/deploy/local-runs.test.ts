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
import { lambdaContext } from '../support/harness.ts';
import { coldStart } from '../support/stack.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EVENTS = join(ROOT, 'events');

/** What each sample answers: the README's table. */
const EXPECTED: Record<string, { status: number; code?: string }> = {
  'register-success.json': { status: 201 },
  'invalid-request.json': { status: 400, code: 'invalid_request' },
  'unknown-engine-version.json': { status: 404, code: 'engine_version_not_found' },
  'conflict.json': { status: 409, code: 'conflict' },
  'engine-failure.json': { status: 502, code: 'engine_unreachable' },
  'engine-validation-error.json': { status: 502, code: 'engine_validation_error' },
  'engine-protocol-violation.json': { status: 502, code: 'engine_protocol_violation' },
};

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
  exit: Promise<number | null>;
}

function start(name: string, args: string[] = [], env: NodeJS.ProcessEnv = cleanEnv()): Run {
  const script = npmScript(name);
  // Its own process group, so whatever it started can be stopped as a whole.
  const child = spawn(script.command, [...script.args, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, output: () => output, exit };
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

async function waitFor(run: Run, pattern: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(run.output())) {
    if (run.child.exitCode !== null) throw new Error(`exited (${run.child.exitCode}) before ${pattern}:\n${run.output()}`);
    if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms:\n${run.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('events/: the sample API Gateway events', () => {
  it('has exactly the samples the README lists, each an HTTP API payload 2.0 event for the route', () => {
    expect(readdirSync(EVENTS).filter((f) => f.endsWith('.json')).sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const file of Object.keys(EXPECTED)) {
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
  let handler: Handler;
  const saved = { ...process.env };

  beforeAll(async () => {
    local = await startLocalEnvironment();
    Object.assign(process.env, local.env, { POWERTOOLS_LOG_LEVEL: 'SILENT' });
    // Cold-started through the harness, so every sample's answer is also checked against docs/openapi.yaml.
    handler = await coldStart<Handler>('../../functions/register-runtime/handler.ts');
  }, 120_000);

  afterAll(async () => {
    await local?.stop();
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  });

  it.each(Object.entries(EXPECTED))('%s answers %j', async (file, expected) => {
    const response = await handler(readEvent(file), lambdaContext());
    const body = JSON.parse(response.body ?? '{}') as { error?: { code: string }; game_id?: string; status?: string };
    expect(response.statusCode, response.body).toBe(expected.status);
    if (expected.code) expect(body.error?.code).toBe(expected.code);
    else expect(body).toMatchObject({ game_id: 'g-7f3a', status: 'running' });
  });
});

describe('npm start, npm run invoke, npm run dev', () => {
  const runs: Run[] = [];
  afterAll(() => {
    for (const run of runs) killGroup(run);
  });

  it('npm start registers the sample game and prints the answer, the rows and the snapshot event', async () => {
    const run = start('start');
    runs.push(run);
    const code = await finish(run, 120_000);
    const out = run.output();
    expect(code, out).toBe(0);
    expect(out).toMatch(/waiting for DynamoDB Local|DynamoDB Local answering/);
    expect(out).toContain('=== HTTP response: 201');
    expect(out).toMatch(/=== game-master-local-runtime-records \(2 rows\)/);
    expect(out).toMatch(/=== game-master-local-player-mappings \(2 rows\)/);
    expect(out).toMatch(/=== game-master-local-operation-log \(1 row\)/);
    expect(out).toContain('=== EventBridge PutEvents received (1)');
    expect(out).toContain('"DetailType": "runtime_snapshot_update"');
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
    expect(out).toContain('[invoke] EventBridge received 0 event(s)');
  }, 160_000);

  it('npm run dev serves the route on localhost:3000 until interrupted', async () => {
    const run = start('dev');
    runs.push(run);
    await waitFor(run, /Server ready: http:\/\/localhost:3000/, 150_000);
    const request = () =>
      fetch('http://localhost:3000/internal/v1/runtimes', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: readEvent('register-success.json').body as string,
      });
    const first = await request();
    expect(first.status).toBe(201);
    expect(((await first.json()) as { status: string }).status).toBe('running');
    const again = await request();
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe('conflict');
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
