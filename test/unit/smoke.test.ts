/**
 * `npm run smoke` (scripts/smoke-lib.ts) against a loopback server that
 * stands in for the deployed API and for CloudFormation: it recomputes every
 * SigV4 signature on its own (node:crypto, not the signer the script uses)
 * with the same static test credentials and answers 403 to any request whose
 * canonical request, body or credentials do not match, then answers like the
 * routes. Nothing here connects anywhere but 127.0.0.1, and no real
 * credential lookup (environment, files, IMDS) is made except in the child
 * process test, whose environment has none and has IMDS disabled.
 */
import { spawn } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  apiUrlFromId,
  PUT_VERSION_USAGE,
  parseArgs,
  runPutVersion,
  runSmoke,
  type SmokeCredentials,
  type SmokeDeps,
  smokeVersion,
} from '../../scripts/smoke-lib.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CREDENTIALS: SmokeCredentials = { accessKeyId: 'AKIDSMOKETEST', secretAccessKey: 'smoke-test-secret', sessionToken: 'smoke-session' };
const REGION = 'eu-west-1';
const NOW = new Date('2026-12-03T07:28:00.000Z');
const VERSION = 'smoke-20261203072800';

// ------------------------------------------------------------ SigV4 check

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
const escapeUri = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Why the request's signature is not the one these credentials give it, or undefined when it is. */
function signatureProblem(req: IncomingMessage, body: Buffer, service: string): string | undefined {
  const auth = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
    req.headers.authorization ?? '',
  );
  if (!auth) return 'no SigV4 Authorization header';
  const [, accessKey, day, region, signedService, signedHeaders, signature] = auth as unknown as string[];
  if (accessKey !== CREDENTIALS.accessKeyId) return 'unknown access key';
  if (region !== REGION || signedService !== service) return `scope ${region}/${signedService}, expected ${REGION}/${service}`;
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  if (!amzDate.startsWith(day as string)) return 'x-amz-date is not the scope date';
  if (req.headers['x-amz-security-token'] !== CREDENTIALS.sessionToken) return 'session token missing';
  const payloadHash = sha256(body);
  const claimed = req.headers['x-amz-content-sha256'];
  if (claimed !== undefined && claimed !== payloadHash) return 'body does not match x-amz-content-sha256';
  const names = (signedHeaders as string).split(';');
  for (const required of ['host', 'x-amz-date']) if (!names.includes(required)) return `${required} not signed`;
  const url = new URL(req.url ?? '/', 'http://placeholder');
  // Every service but S3: each path segment as received, URI-encoded again.
  const canonicalUri = url.pathname.split('/').map(escapeUri).join('/');
  const canonicalQuery = [...url.searchParams]
    .map(([k, v]) => [escapeUri(k), escapeUri(v)])
    .sort(([a, x], [b, y]) => (a === b ? ((x as string) < (y as string) ? -1 : 1) : (a as string) < (b as string) ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalHeaders = names.map((name) => `${name}:${String(req.headers[name] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonical = [req.method, canonicalUri, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${CREDENTIALS.secretAccessKey}`, day as string), region as string), service), 'aws4_request');
  return createHmac('sha256', key).update(stringToSign).digest('hex') === signature ? undefined : 'signature does not match';
}

// ------------------------------------------------- the routes, on loopback

interface Seen {
  method: string;
  url: string;
  service: string;
  problem: string | undefined;
}

interface Answer {
  status: number;
  body: string;
  contentType?: string;
}

const json = (status: number, value: unknown): Answer => ({ status, body: JSON.stringify(value) });
const error = (status: number, code: string, message: string) => json(status, { error: { code, message } });

class ApiDouble {
  server: Server = createServer((req, res) => this.serve(req, res));
  seen: Seen[] = [];
  versions = new Map<string, { version: string; image_ref: string; created_at: string }>();
  games = new Set<string>();
  /** Answers a request before the routes do (failure injection). */
  override: ((method: string, path: string) => Answer | undefined) | undefined;
  url = '';

  async start() {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop() {
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  reset() {
    this.seen = [];
    this.versions.clear();
    this.games.clear();
    this.override = undefined;
  }

  private serve(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', this.url);
      const service = url.pathname === '/' ? 'cloudformation' : 'execute-api';
      const problem = signatureProblem(req, body, service);
      this.seen.push({ method: req.method ?? '', url: req.url ?? '', service, problem });
      const answer = problem
        ? error(403, 'forbidden', `The request signature we calculated does not match: ${problem}`)
        : service === 'cloudformation'
          ? this.cloudFormation(body.toString())
          : (this.override?.(req.method ?? '', url.pathname) ?? this.route(req.method ?? '', url, body.toString()));
      res.writeHead(answer.status, { 'content-type': answer.contentType ?? 'application/json' });
      res.end(answer.body);
    });
  }

  private cloudFormation(form: string): Answer {
    const params = new URLSearchParams(form);
    const xml = (inner: string) => ({ status: 200, contentType: 'text/xml', body: inner });
    if (params.get('Action') !== 'DescribeStacks') return { status: 400, contentType: 'text/xml', body: '<Code>InvalidAction</Code>' };
    if (params.get('StackName') !== 'game-master-smoke') {
      return {
        status: 400,
        contentType: 'text/xml',
        body: `<ErrorResponse><Error><Code>ValidationError</Code><Message>Stack with id ${params.get('StackName')} does not exist</Message></Error></ErrorResponse>`,
      };
    }
    return xml(
      `<DescribeStacksResponse><DescribeStacksResult><Stacks><member><StackName>game-master-smoke</StackName><Outputs>` +
        `<member><OutputKey>HttpApiId</OutputKey><OutputValue>abc123</OutputValue></member>` +
        `<member><Description>URL of the HTTP API</Description><OutputKey>HttpApiUrl</OutputKey><OutputValue>${this.url}</OutputValue></member>` +
        `</Outputs></member></Stacks></DescribeStacksResult></DescribeStacksResponse>`,
    );
  }

  private route(method: string, url: URL, body: string): Answer {
    const parts = url.pathname.split('/').slice(1).map(decodeURIComponent);
    if (parts[0] !== 'internal' || parts[1] !== 'v1') return error(404, 'route_not_found', 'no route');
    if (parts[2] === 'engine-versions' && parts.length === 4) {
      const version = parts[3] as string;
      const stored = this.versions.get(version);
      if (method === 'PUT') {
        const image = JSON.parse(body).image_ref as string;
        if (!stored) {
          const item = { version, image_ref: image, created_at: NOW.toISOString() };
          this.versions.set(version, item);
          return json(201, item);
        }
        if (stored.image_ref === image) return json(200, stored);
        return error(409, 'engine_version_exists', `engine version "${version}" already names another image`);
      }
      if (method === 'GET') return stored ? json(200, stored) : error(404, 'engine_version_not_found', `engine version "${version}" not found`);
    }
    if (parts[2] === 'engine-versions' && parts.length === 3 && method === 'GET') {
      const limit = Number(url.searchParams.get('limit') ?? 50);
      return json(200, { engine_versions: [...this.versions.values()].slice(0, limit), next_cursor: null });
    }
    if (parts[2] === 'runtimes' && parts.length === 4 && method === 'GET') {
      const game = parts[3] as string;
      if (!this.games.has(game)) return error(404, 'runtime_not_found', `runtime record for "${game}" not found`);
      return json(200, { game_id: game, status: 'running', players: [] });
    }
    if (parts[2] === 'runtimes' && parts[4] === 'operations' && parts.length === 5 && method === 'GET') {
      return json(200, { operations: [], next_cursor: null });
    }
    return error(404, 'route_not_found', 'no route');
  }
}

// ------------------------------------------------------------------ setup

const api = new ApiDouble();
let lines: string[];

function deps(overrides: Partial<SmokeDeps> = {}): SmokeDeps {
  return {
    credentials: async () => CREDENTIALS,
    fetch: globalThis.fetch,
    clock: () => NOW,
    print: (line) => lines.push(line),
    cloudFormationEndpoint: () => api.url,
    ...overrides,
  };
}

const args = (...extra: string[]) => ['--stage', 'smoke', '--region', REGION, '--url', api.url, ...extra];

beforeAll(async () => {
  // No real credential lookup may reach the instance metadata service.
  vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
  await api.start();
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await api.stop();
});

beforeEach(() => {
  api.reset();
  lines = [];
});

// ------------------------------------------------------------------ tests

describe('npm run smoke against a stage (loopback double)', () => {
  it('signs every request, runs the seven steps and passes with exit 0', async () => {
    const code = await runSmoke(args(), deps());

    expect(code).toBe(0);
    expect(api.seen.map((s) => s.problem)).toEqual(Array(7).fill(undefined));
    expect(api.seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      `PUT /internal/v1/engine-versions/${VERSION}`,
      `PUT /internal/v1/engine-versions/${VERSION}`,
      `PUT /internal/v1/engine-versions/${VERSION}`,
      `GET /internal/v1/engine-versions/${VERSION}`,
      'GET /internal/v1/engine-versions?limit=5',
      'GET /internal/v1/runtimes/smoke-no-such-game-20261203072800',
      'GET /internal/v1/runtimes/smoke-no-such-game-20261203072800/operations?limit=5',
    ]);
    // The throwaway version names the image it was given; the 409 left it so.
    expect(api.versions.get(VERSION)?.image_ref).toBe('smoke.invalid/engine:20261203072800');

    expect(lines).toHaveLength(9);
    expect(lines[0]).toBe(
      `[smoke] stage smoke, region ${REGION}, API ${api.url}, version ${VERSION}, game smoke-no-such-game-20261203072800`,
    );
    expect(lines.slice(1, 8).map((l) => /^\[smoke\] (\S+) (\S+ \S+) -> (\d{3}) /.exec(l)?.slice(1))).toEqual([
      ['ok', `PUT /internal/v1/engine-versions/${VERSION}`, '201'],
      ['ok', `PUT /internal/v1/engine-versions/${VERSION}`, '200'],
      ['ok', `PUT /internal/v1/engine-versions/${VERSION}`, '409'],
      ['ok', `GET /internal/v1/engine-versions/${VERSION}`, '200'],
      ['ok', 'GET /internal/v1/engine-versions?limit=5', '200'],
      ['ok', 'GET /internal/v1/runtimes/smoke-no-such-game-20261203072800', '404'],
      ['ok', 'GET /internal/v1/runtimes/smoke-no-such-game-20261203072800/operations?limit=5', '200'],
    ]);
    // Each step line carries the body it saw.
    expect(lines[3]).toContain('"code":"engine_version_exists"');
    expect(lines[6]).toContain('"code":"runtime_not_found"');
    expect(lines[8]).toBe(`[smoke] PASS: 7 of 7 steps answered as expected (version ${VERSION} stays in the registry)`);
  });

  it('reads an existing game when --game names one, and percent-encodes its id on the wire and in the signature', async () => {
    api.games.add('g:1@x');

    const code = await runSmoke(args('--game', 'g:1@x'), deps());

    expect(code).toBe(0);
    expect(api.seen.every((s) => s.problem === undefined)).toBe(true);
    expect(api.seen.slice(5).map((s) => s.url)).toEqual(['/internal/v1/runtimes/g%3A1%40x', '/internal/v1/runtimes/g%3A1%40x/operations?limit=5']);
    expect(lines[6]).toMatch(/^\[smoke\] ok GET \/internal\/v1\/runtimes\/g%3A1%40x -> 200 \{"game_id":"g:1@x"/);
  });

  it('finds the API URL in the stack outputs (signed DescribeStacks) when neither --url nor --api-id is given', async () => {
    const code = await runSmoke(['--stage', 'smoke', '--region', REGION], deps());

    expect(code).toBe(0);
    expect(api.seen[0]).toEqual({ method: 'POST', url: '/', service: 'cloudformation', problem: undefined });
    expect(api.seen.slice(1).map((s) => s.service)).toEqual(Array(7).fill('execute-api'));
    expect(api.seen.every((s) => s.problem === undefined)).toBe(true);
  });

  it('exits 2 with one line, sending nothing to the API, when the stack is not there', async () => {
    const code = await runSmoke(['--stage', 'other', '--region', REGION], deps());

    expect(code).toBe(2);
    expect(lines).toEqual([
      '[smoke] cannot find the API: DescribeStacks game-master-other answered 400 ValidationError: Stack with id game-master-other does not exist; give --url or --api-id',
    ]);
    expect(api.seen.map((s) => s.service)).toEqual(['cloudformation']);
  });

  it('builds the execute-api URL from --api-id and the region', () => {
    expect(apiUrlFromId('a1b2c3', 'eu-central-1')).toBe('https://a1b2c3.execute-api.eu-central-1.amazonaws.com');
    expect(parseArgs(['--stage', 'prod', '--region', 'eu-central-1', '--api-id', 'a1b2c3'])).toEqual({
      ok: true,
      options: { stage: 'prod', region: 'eu-central-1', apiId: 'a1b2c3' },
    });
  });

  it('fails (exit 1) on every step when the signing secret is wrong: the server rejects each signature', async () => {
    const code = await runSmoke(args(), deps({ credentials: async () => ({ ...CREDENTIALS, secretAccessKey: 'not-the-secret' }) }));

    expect(code).toBe(1);
    expect(api.seen.map((s) => s.problem)).toEqual(Array(7).fill('signature does not match'));
    expect(lines.slice(1, 8).every((l) => /^\[smoke\] UNEXPECTED \S+ \S+ -> 403 .*\(expected \d{3}/.test(l))).toBe(true);
    expect(lines[8]).toBe('[smoke] FAIL: 7 of 7 steps answered unexpectedly');
    // Nothing reached the routes.
    expect(api.versions.size).toBe(0);
  });

  it('is rejected when the request sent differs from the one signed (a wrong canonical request)', async () => {
    // Adds a query parameter after signing: path and body are right, the canonical query is not.
    const tampering: typeof fetch = (input, init) => globalThis.fetch(`${String(input)}${String(input).includes('?') ? '&' : '?'}x=1`, init);

    const code = await runSmoke(args(), deps({ fetch: tampering }));

    expect(code).toBe(1);
    expect(api.seen.map((s) => s.problem)).toEqual(Array(7).fill('signature does not match'));
  });

  it('reports a step whose status or error code is not the expected one, runs the rest, and exits 1', async () => {
    api.override = (method, path) =>
      method === 'GET' && path.startsWith('/internal/v1/runtimes/') && !path.endsWith('/operations')
        ? error(503, 'service_unavailable', 'reading the runtime record failed')
        : undefined;

    const code = await runSmoke(args(), deps());

    expect(code).toBe(1);
    expect(api.seen).toHaveLength(7);
    expect(lines[6]).toBe(
      '[smoke] UNEXPECTED GET /internal/v1/runtimes/smoke-no-such-game-20261203072800 -> 503 {"error":{"code":"service_unavailable","message":"reading the runtime record failed"}} (expected 404 runtime_not_found) [read a game that does not exist]',
    );
    expect(lines.filter((l) => l.startsWith('[smoke] ok '))).toHaveLength(6);
    expect(lines[8]).toBe('[smoke] FAIL: 1 of 7 steps answered unexpectedly');
  });

  it('checks the body of an expected status too: a 404 with another error code is unexpected', async () => {
    api.override = (method, path) => (method === 'GET' && path.endsWith('/operations') ? error(404, 'route_not_found', 'no route') : undefined);

    const code = await runSmoke(args(), deps());

    expect(code).toBe(1);
    expect(lines[7]).toMatch(/^\[smoke\] UNEXPECTED GET .*\/operations\?limit=5 -> 404 .*\(expected 200\)/);
  });

  it('counts an unreachable API as unexpected for every step', async () => {
    const refusing: typeof fetch = async () => {
      throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:1') });
    };

    const code = await runSmoke(args(), deps({ fetch: refusing }));

    expect(code).toBe(1);
    expect(lines[1]).toBe(
      `[smoke] UNEXPECTED PUT /internal/v1/engine-versions/${VERSION} -> no answer (fetch failed (connect ECONNREFUSED 127.0.0.1:1)); expected 201 [register a throwaway engine version]`,
    );
    expect(lines[8]).toBe('[smoke] FAIL: 7 of 7 steps answered unexpectedly');
  });
});

describe('npm run smoke refuses to start', () => {
  it('without credentials: one clear line, exit 2, nothing sent', async () => {
    const noCredentials = async () => {
      const err = new Error('Could not load credentials from any providers');
      err.name = 'CredentialsProviderError';
      throw err;
    };

    const code = await runSmoke(args(), deps({ credentials: noCredentials }));

    expect(code).toBe(2);
    expect(lines).toEqual([
      '[smoke] refusing to run: no AWS credentials found (Could not load credentials from any providers); set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, for a principal allowed execute-api:Invoke on the stage',
    ]);
    expect(api.seen).toEqual([]);
  });

  it('when a credential source fails: says so in one line, exit 2, nothing sent', async () => {
    const expired = async () => {
      throw new Error('The SSO session associated with this profile has expired.\nTo refresh this SSO session run aws sso login');
    };

    const code = await runSmoke(args(), deps({ credentials: expired }));

    expect(code).toBe(2);
    expect(lines).toEqual([
      '[smoke] refusing to run: AWS credentials could not be loaded (The SSO session associated with this profile has expired.); set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, for a principal allowed execute-api:Invoke on the stage',
    ]);
    expect(api.seen).toEqual([]);
  });

  it.each([
    [[], '--stage <stage> is required (letters, digits, -)'],
    [['--stage', 'dev'], '--region <region> is required (e.g. eu-west-1)'],
    [['--stage', 'dev', '--region', 'moon'], '--region <region> is required (e.g. eu-west-1)'],
    [['--stage', 'dev', '--region', REGION, '--url'], '--url needs a value'],
    [['--stage', 'dev', '--region', REGION, '--verbose', 'yes'], 'unknown argument "--verbose"'],
    [['--stage', 'dev', '--region', REGION, '--url', 'http://10.0.0.1'], '--url must be https:// (http:// only for a loopback host)'],
    [
      ['--stage', 'dev', '--region', REGION, '--url', 'https://x.example/prod'],
      '--url is the API base URL only (https://<api-id>.execute-api.<region>.amazonaws.com)',
    ],
    [['--stage', 'dev', '--region', REGION, '--url', 'https://x.example', '--api-id', 'abc'], 'give --url or --api-id, not both'],
    [['--stage', 'dev', '--region', REGION, '--game', '../x'], '--game must follow the game_id rule'],
  ])('with bad arguments %j: the reason and the usage line, exit 2', async (argv, reason) => {
    const code = await runSmoke(argv, deps());

    expect(code).toBe(2);
    expect(lines).toEqual([
      `[smoke] ${reason}`,
      'usage: npm run smoke -- --stage <stage> --region <region> [--url <https://...> | --api-id <id>] [--game <game_id>]',
    ]);
    expect(api.seen).toEqual([]);
  });

  it('names the version after the clock, within the version rule', () => {
    expect(smokeVersion(new Date('2027-01-02T03:04:05.678Z'))).toBe('smoke-20270102030405');
    expect(smokeVersion(NOW)).toMatch(/^[A-Za-z0-9.+-]{1,64}$/);
  });
});

describe('npm run engine-version (one signed PUT)', () => {
  const put = (...argv: string[]) => runPutVersion([...argv, '--stage', 'smoke', '--region', REGION, '--url', api.url], deps());

  it('creates a version (201, exit 0) and accepts the same release again (200, exit 0), signed', async () => {
    expect(await put('1.4.2', 'registry.example/galaxy/engine:1.4.2')).toBe(0);
    expect(await put('1.4.2', 'registry.example/galaxy/engine:1.4.2')).toBe(0);

    expect(api.seen.map((s) => [s.method, s.url, s.problem])).toEqual([
      ['PUT', '/internal/v1/engine-versions/1.4.2', undefined],
      ['PUT', '/internal/v1/engine-versions/1.4.2', undefined],
    ]);
    expect(api.versions.get('1.4.2')?.image_ref).toBe('registry.example/galaxy/engine:1.4.2');
    expect(lines).toEqual([
      `[engine-version] PUT /internal/v1/engine-versions/1.4.2 -> 201 {"version":"1.4.2","image_ref":"registry.example/galaxy/engine:1.4.2","created_at":"${NOW.toISOString()}"}`,
      '[engine-version] created: 1.4.2 names registry.example/galaxy/engine:1.4.2',
      `[engine-version] PUT /internal/v1/engine-versions/1.4.2 -> 200 {"version":"1.4.2","image_ref":"registry.example/galaxy/engine:1.4.2","created_at":"${NOW.toISOString()}"}`,
      '[engine-version] already there: 1.4.2 names registry.example/galaxy/engine:1.4.2 (nothing changed)',
    ]);
  });

  it('exits 1 on 409 and leaves the version naming its first image', async () => {
    await put('1.4.2', 'registry.example/galaxy/engine:1.4.2');
    lines = [];

    expect(await put('1.4.2', 'registry.example/galaxy/engine:other')).toBe(1);

    expect(api.versions.get('1.4.2')?.image_ref).toBe('registry.example/galaxy/engine:1.4.2');
    expect(lines[0]).toMatch(/-> 409 \{"error":\{"code":"engine_version_exists"/);
    expect(lines[1]).toBe(
      '[engine-version] refused: 1.4.2 already names another image, and versions never change; release the image as a new version',
    );
  });

  it.each([
    [[], '<version> and <image_ref> come first'],
    [['--stage', 'smoke'], '<version> and <image_ref> come first'],
    [['1.4.2 beta', 'img', '--stage', 'smoke', '--region', REGION], '<version> is 1 to 64 letters, digits, . + -'],
    [['1.4.2', 'has space', '--stage', 'smoke', '--region', REGION], '<image_ref> is 1 to 512 printable ASCII characters, no space'],
    [['1.4.2', 'img', '--region', REGION], '--stage <stage> is required (letters, digits, -)'],
    [['1.4.2', 'img', '--stage', 'smoke', '--region', REGION, '--game', 'g-1'], 'unknown argument "--game"'],
  ])('with bad arguments %j: the reason and the usage line, exit 2, nothing sent', async (argv, reason) => {
    expect(await runPutVersion(argv, deps())).toBe(2);

    expect(lines).toEqual([`[engine-version] ${reason}`, PUT_VERSION_USAGE]);
    expect(api.seen).toEqual([]);
  });

  it('refuses to run without credentials: one line, exit 2, nothing sent', async () => {
    const code = await runPutVersion(['1.4.2', 'img', '--stage', 'smoke', '--region', REGION, '--url', api.url], {
      ...deps(),
      credentials: async () => {
        throw Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
      },
    });

    expect(code).toBe(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[engine-version\] refusing to run: no AWS credentials found/);
    expect(api.seen).toEqual([]);
  });
});

describe('scripts/smoke.ts as npm runs it', () => {
  /** The script under tsx with no AWS credentials anywhere: no variables, no files, IMDS off. */
  function runScript(argv: string[]) {
    const home = mkdtempSync(join(tmpdir(), 'gm-smoke-'));
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('AWS_')) env[key] = value;
    Object.assign(env, {
      HOME: home,
      AWS_CONFIG_FILE: join(home, 'no-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'scripts/smoke.ts'), ...argv], {
        cwd: ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        rmSync(home, { recursive: true, force: true });
        resolve({ code, stdout, stderr });
      });
    });
  }

  it('refuses to run without credentials through the default chain: one line, exit 2, nothing sent', async () => {
    const result = await runScript(args());

    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    expect(result.stdout).toMatch(/^\[smoke\] refusing to run: no AWS credentials found \(/);
    expect(result.code).toBe(2);
    expect(api.seen).toEqual([]);
  });

  it('prints the usage line and exits 2 without arguments', async () => {
    const result = await runScript([]);

    expect(result.code).toBe(2);
    expect(result.stdout).toContain('usage: npm run smoke -- --stage <stage> --region <region>');
  });
});
