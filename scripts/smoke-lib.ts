/**
 * The smoke check of a deployed stage (`npm run smoke`, scripts/smoke.ts),
 * as a module: argument parsing, finding the API's URL, SigV4 signing and the
 * step sequence take everything from outside as arguments (fetch, credentials
 * provider, clock, output), so the tests run it against a loopback server
 * that checks every signature, without AWS.
 *
 * What a run does, one printed line per request:
 *   PUT  /internal/v1/engine-versions/smoke-<ts>   201 (a throwaway version)
 *   PUT  the same again                            200 (a retried release)
 *   PUT  the same version, another image           409 engine_version_exists
 *   GET  /internal/v1/engine-versions/smoke-<ts>   200 with the image it was given
 *   GET  /internal/v1/engine-versions?limit=5      200
 *   GET  /internal/v1/runtimes/<game>              404 runtime_not_found (200 with --game)
 *   GET  /internal/v1/runtimes/<game>/operations   200
 * then one verdict line. Exit codes: 0 every step as expected, 1 any step
 * not, 2 nothing was sent (usage, no credentials, the URL not found).
 *
 * Engine versions are immutable and have no delete route: every run leaves
 * its `smoke-<ts>` version (image `smoke.invalid/engine:<ts>`, a host that
 * cannot resolve) in the registry, where no game can start on it.
 *
 * `npm run engine-version` (scripts/engine-version.ts, runPutVersion below)
 * uses the same signing and URL lookup for the one request an operator
 * needs: adding an engine version.
 */
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';

export interface SmokeCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SmokeDeps {
  /** The default credential chain in the script; a static or throwing one in tests. */
  credentials: () => Promise<SmokeCredentials>;
  fetch: typeof globalThis.fetch;
  clock: () => Date;
  print: (line: string) => void;
  /** Where DescribeStacks goes; `https://cloudformation.<region>.amazonaws.com/` unless given (tests: loopback). */
  cloudFormationEndpoint?: (region: string) => string;
}

export interface SmokeOptions {
  stage: string;
  region: string;
  /** Explicit base URL (`--url`), or built from `--api-id`; neither: looked up in the stack's outputs. */
  url?: string;
  apiId?: string;
  /** A game to read (`--game`): expected to exist. Default: a game id that cannot exist, expected 404. */
  game?: string;
}

export const USAGE =
  'usage: npm run smoke -- --stage <stage> --region <region> [--url <https://...> | --api-id <id>] [--game <game_id>]';

const STAGE = /^[A-Za-z0-9-]{1,64}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const API_ID = /^[a-z0-9]{1,32}$/;
// The game_id rule of the spec.
const GAME_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** `--flag value` pairs into options, or the reason they are not usable. */
export function parseArgs(argv: string[]): { ok: true; options: SmokeOptions } | { ok: false; reason: string } {
  const values: Record<string, string> = {};
  const known = new Set(['--stage', '--region', '--url', '--api-id', '--game']);
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i] as string;
    const value = argv[i + 1];
    if (!known.has(flag)) return { ok: false, reason: `unknown argument ${JSON.stringify(flag)}` };
    if (value === undefined || value.startsWith('--')) return { ok: false, reason: `${flag} needs a value` };
    if (flag in values) return { ok: false, reason: `${flag} given twice` };
    values[flag] = value;
  }
  const stage = values['--stage'];
  const region = values['--region'];
  if (!stage || !STAGE.test(stage)) return { ok: false, reason: '--stage <stage> is required (letters, digits, -)' };
  if (!region || !REGION.test(region)) return { ok: false, reason: '--region <region> is required (e.g. eu-west-1)' };
  const options: SmokeOptions = { stage, region };
  const url = values['--url'];
  const apiId = values['--api-id'];
  if (url !== undefined && apiId !== undefined) return { ok: false, reason: 'give --url or --api-id, not both' };
  if (url !== undefined) {
    const checked = checkBaseUrl(url);
    if (!checked.ok) return checked;
    options.url = checked.url;
  }
  if (apiId !== undefined) {
    if (!API_ID.test(apiId)) return { ok: false, reason: '--api-id is the HTTP API id (lower-case letters and digits)' };
    options.apiId = apiId;
  }
  const game = values['--game'];
  if (game !== undefined) {
    if (!GAME_ID.test(game)) return { ok: false, reason: '--game must follow the game_id rule' };
    options.game = game;
  }
  return { ok: true, options };
}

/** https anywhere; plain http only to loopback (a local run). No path, query or credentials in it. */
function checkBaseUrl(raw: string): { ok: true; url: string } | { ok: false; reason: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: `--url ${JSON.stringify(raw)} is not a URL` };
  }
  const secure = url.protocol === 'https:';
  const loopback = url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
  if (!secure && !loopback) return { ok: false, reason: '--url must be https:// (http:// only for a loopback host)' };
  if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
    return { ok: false, reason: '--url is the API base URL only (https://<api-id>.execute-api.<region>.amazonaws.com)' };
  }
  return { ok: true, url: url.origin };
}

/** The default endpoint of an HTTP API ($default stage: no stage in the path). */
export function apiUrlFromId(apiId: string, region: string): string {
  return `https://${apiId}.execute-api.${region}.amazonaws.com`;
}

/** One request, signed with SigV4 for `service` in `region`. */
export interface SignedCall {
  method: 'GET' | 'PUT' | 'POST';
  /** Base URL, e.g. https://abc.execute-api.eu-west-1.amazonaws.com */
  base: string;
  /** Path segments, each percent-encoded on the wire. */
  segments: string[];
  query?: Record<string, string>;
  body?: string;
  contentType?: string;
}

export async function signedFetch(
  call: SignedCall,
  signing: { service: string; region: string; credentials: SmokeCredentials; date: Date },
  fetchFn: typeof globalThis.fetch,
): Promise<Response> {
  const base = new URL(call.base);
  // The wire path has each segment percent-encoded once; the signer encodes
  // it again for the canonical request, as AWS expects of every service but S3.
  const path = `/${call.segments.map(encodeURIComponent).join('/')}`;
  const query = call.query ?? {};
  const headers: Record<string, string> = { host: base.host, accept: 'application/json' };
  if (call.contentType) headers['content-type'] = call.contentType;
  const signer = new SignatureV4({
    service: signing.service,
    region: signing.region,
    credentials: signing.credentials,
    sha256: Hash.bind(null, 'sha256'),
  });
  const signed = await signer.sign(
    {
      method: call.method,
      protocol: base.protocol,
      hostname: base.hostname,
      ...(base.port ? { port: Number(base.port) } : {}),
      path,
      query,
      headers,
      ...(call.body !== undefined ? { body: call.body } : {}),
    },
    { signingDate: signing.date },
  );
  const search = new URLSearchParams(query).toString();
  const url = `${base.origin}${path}${search ? `?${search}` : ''}`;
  // fetch sets Host from the URL itself (the same value that was signed).
  const { host: _host, ...sent } = signed.headers as Record<string, string>;
  return fetchFn(url, { method: call.method, headers: sent, ...(call.body !== undefined ? { body: call.body } : {}), redirect: 'manual' });
}

/** The `HttpApiUrl` output of stack `game-master-<stage>` (CloudFormation DescribeStacks, query protocol). */
export async function lookUpApiUrl(
  options: { stage: string; region: string },
  credentials: SmokeCredentials,
  deps: Pick<SmokeDeps, 'fetch' | 'clock' | 'cloudFormationEndpoint'>,
): Promise<{ ok: true; url: string } | { ok: false; reason: string }> {
  const stack = `game-master-${options.stage}`;
  const endpoint = deps.cloudFormationEndpoint?.(options.region) ?? `https://cloudformation.${options.region}.amazonaws.com/`;
  const body = new URLSearchParams({ Action: 'DescribeStacks', StackName: stack, Version: '2010-05-15' }).toString();
  let answer: Response;
  try {
    answer = await signedFetch(
      { method: 'POST', base: endpoint, segments: [''], body, contentType: 'application/x-www-form-urlencoded; charset=utf-8' },
      { service: 'cloudformation', region: options.region, credentials, date: deps.clock() },
      deps.fetch,
    );
  } catch (err) {
    return { ok: false, reason: `DescribeStacks ${stack} failed: ${messageOf(err)}` };
  }
  const xml = await answer.text();
  if (answer.status !== 200) {
    const code = /<Code>([^<]*)<\/Code>/.exec(xml)?.[1] ?? 'no error code';
    const message = /<Message>([^<]*)<\/Message>/.exec(xml)?.[1] ?? '';
    return { ok: false, reason: `DescribeStacks ${stack} answered ${answer.status} ${code}${message ? `: ${message}` : ''}` };
  }
  for (const member of xml.split('<member>')) {
    if (!/<OutputKey>HttpApiUrl<\/OutputKey>/.test(member)) continue;
    const value = /<OutputValue>([^<]*)<\/OutputValue>/.exec(member)?.[1];
    if (value) {
      const checked = checkBaseUrl(value.trim());
      if (checked.ok) return checked;
      return { ok: false, reason: `stack ${stack} output HttpApiUrl is not a usable URL: ${value}` };
    }
  }
  return { ok: false, reason: `stack ${stack} has no HttpApiUrl output` };
}

interface Step {
  name: string;
  call: Omit<SignedCall, 'base'>;
  expect: number;
  /** The error code an error answer must carry. */
  code?: string;
  /** Further checks on a body of the expected status: a reason it is wrong, or undefined. */
  check?: (body: any) => string | undefined;
}

/** `smoke-20261203072800`: letters, digits and `-`, within the version rule (1 to 64 of letters, digits, . + -). */
export function smokeVersion(now: Date): string {
  return `smoke-${now.toISOString().replace(/[-:TZ]/g, '').replace(/\..*$/, '')}`;
}

function stepsFor(version: string, game: string, gameExists: boolean): Step[] {
  const stamp = version.slice('smoke-'.length);
  const image = `smoke.invalid/engine:${stamp}`;
  const put = (imageRef: string) => ({
    method: 'PUT' as const,
    segments: ['internal', 'v1', 'engine-versions', version],
    body: JSON.stringify({ image_ref: imageRef }),
    contentType: 'application/json',
  });
  const sameItem = (body: any) =>
    body?.version === version && body?.image_ref === image ? undefined : `expected version ${version} with image ${image}`;
  return [
    { name: 'register a throwaway engine version', call: put(image), expect: 201, check: sameItem },
    { name: 'register it again (a retried release)', call: put(image), expect: 200, check: sameItem },
    { name: 'register it with another image', call: put(`${image}-other`), expect: 409, code: 'engine_version_exists' },
    {
      name: 'read the version back',
      call: { method: 'GET', segments: ['internal', 'v1', 'engine-versions', version] },
      expect: 200,
      check: sameItem,
    },
    {
      name: 'list engine versions',
      call: { method: 'GET', segments: ['internal', 'v1', 'engine-versions'], query: { limit: '5' } },
      expect: 200,
      check: (body) => (Array.isArray(body?.engine_versions) ? undefined : 'expected an engine_versions list'),
    },
    {
      name: gameExists ? 'read the game' : 'read a game that does not exist',
      call: { method: 'GET', segments: ['internal', 'v1', 'runtimes', game] },
      ...(gameExists
        ? { expect: 200, check: (body: any) => (body?.game_id === game ? undefined : `expected game_id ${game}`) }
        : { expect: 404, code: 'runtime_not_found' }),
    },
    {
      name: "read the game's operations",
      call: { method: 'GET', segments: ['internal', 'v1', 'runtimes', game, 'operations'], query: { limit: '5' } },
      expect: 200,
      check: (body) => (Array.isArray(body?.operations) ? undefined : 'expected an operations list'),
    },
  ];
}

const MAX_BODY_CHARS = 400;

function oneLine(text: string): string {
  const flat = text.replace(/\s*\n\s*/g, ' ');
  return flat.length > MAX_BODY_CHARS ? `${flat.slice(0, MAX_BODY_CHARS)}...(${flat.length} chars)` : flat;
}

function messageOf(err: unknown): string {
  const message = err instanceof Error ? `${err.message}${err.cause instanceof Error ? ` (${err.cause.message})` : ''}` : String(err);
  return message.split('\n')[0] ?? '';
}

/** What both commands need before sending anything: credentials and the API's base URL, or the exit code (2). */
async function connect(
  options: SmokeOptions,
  deps: SmokeDeps,
  print: (line: string) => void,
): Promise<{ ok: true; credentials: SmokeCredentials; base: string } | { ok: false; code: number }> {
  let credentials: SmokeCredentials;
  try {
    credentials = await deps.credentials();
  } catch (err) {
    // CredentialsProviderError: the chain found nothing; anything else: a source it found failed (expired SSO token, ...).
    const what = err instanceof Error && err.name === 'CredentialsProviderError' ? 'no AWS credentials found' : 'AWS credentials could not be loaded';
    print(
      `refusing to run: ${what} (${messageOf(err)}); set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, for a principal allowed execute-api:Invoke on the stage`,
    );
    return { ok: false, code: 2 };
  }
  if (options.url) return { ok: true, credentials, base: options.url };
  if (options.apiId) return { ok: true, credentials, base: apiUrlFromId(options.apiId, options.region) };
  const found = await lookUpApiUrl(options, credentials, deps);
  if (!found.ok) {
    print(`cannot find the API: ${found.reason}; give --url or --api-id`);
    return { ok: false, code: 2 };
  }
  return { ok: true, credentials, base: found.url };
}

/** The whole run: returns the exit code. Nothing is sent before credentials are found. */
export async function runSmoke(argv: string[], deps: SmokeDeps): Promise<number> {
  const print = (line: string) => deps.print(`[smoke] ${line}`);
  const parsed = parseArgs(argv);
  if (!parsed.ok) {
    print(`${parsed.reason}`);
    deps.print(USAGE);
    return 2;
  }
  const options = parsed.options;
  const connected = await connect(options, deps, print);
  if (!connected.ok) return connected.code;
  const { credentials, base } = connected;

  const started = deps.clock();
  const version = smokeVersion(started);
  const game = options.game ?? `smoke-no-such-game-${version.slice('smoke-'.length)}`;
  print(`stage ${options.stage}, region ${options.region}, API ${base}, version ${version}, game ${game}`);

  let unexpected = 0;
  const steps = stepsFor(version, game, options.game !== undefined);
  for (const step of steps) {
    const call: SignedCall = { ...step.call, base };
    const query = call.query ? `?${new URLSearchParams(call.query).toString()}` : '';
    const target = `${call.method} /${call.segments.map(encodeURIComponent).join('/')}${query}`;
    let status: number;
    let text: string;
    try {
      const answer = await signedFetch(call, { service: 'execute-api', region: options.region, credentials, date: deps.clock() }, deps.fetch);
      status = answer.status;
      text = await answer.text();
    } catch (err) {
      unexpected += 1;
      print(`UNEXPECTED ${target} -> no answer (${messageOf(err)}); expected ${step.expect} [${step.name}]`);
      continue;
    }
    const problem = judge(step, status, text);
    if (problem) unexpected += 1;
    print(`${problem ? 'UNEXPECTED' : 'ok'} ${target} -> ${status} ${oneLine(text)}${problem ? ` (${problem})` : ''} [${step.name}]`);
  }

  if (unexpected === 0) {
    print(`PASS: ${steps.length} of ${steps.length} steps answered as expected (version ${version} stays in the registry)`);
    return 0;
  }
  print(`FAIL: ${unexpected} of ${steps.length} steps answered unexpectedly`);
  return 1;
}

function judge(step: Step, status: number, text: string): string | undefined {
  if (status !== step.expect) return `expected ${step.expect}${step.code ? ` ${step.code}` : ''}`;
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    return 'the body is not JSON';
  }
  if (step.code && body?.error?.code !== step.code) return `expected error code ${step.code}`;
  return step.check?.(body);
}

export const PUT_VERSION_USAGE =
  'usage: npm run engine-version -- <version> <image_ref> --stage <stage> --region <region> [--url <https://...> | --api-id <id>]';

// The rules of PUT /internal/v1/engine-versions/{version} (reads-and-admin.md): checked here too, for a clear usage error.
const VERSION = /^[A-Za-z0-9.+-]{1,64}$/;
const IMAGE_REF = /^[!-~]{1,512}$/;

/**
 * `npm run engine-version -- <version> <image_ref> --stage ... --region ...`:
 * one signed PUT of an engine version, the way releases add one. Exit 0 when
 * the version names that image (201 created, or 200 it already did), 1 on any
 * other answer (409: the version names another image; versions are
 * immutable, so release a new version), 2 when nothing was sent.
 */
export async function runPutVersion(argv: string[], deps: SmokeDeps): Promise<number> {
  const print = (line: string) => deps.print(`[engine-version] ${line}`);
  const [version, image, ...flags] = argv;
  const usage = (reason: string) => {
    print(reason);
    deps.print(PUT_VERSION_USAGE);
    return 2;
  };
  if (version === undefined || version.startsWith('--') || image === undefined || image.startsWith('--')) {
    return usage('<version> and <image_ref> come first');
  }
  if (!VERSION.test(version)) return usage('<version> is 1 to 64 letters, digits, . + -');
  if (!IMAGE_REF.test(image)) return usage('<image_ref> is 1 to 512 printable ASCII characters, no space');
  const parsed = parseArgs(flags);
  if (!parsed.ok) return usage(parsed.reason);
  if (parsed.options.game !== undefined) return usage('unknown argument "--game"');
  const connected = await connect(parsed.options, deps, print);
  if (!connected.ok) return connected.code;

  const call: SignedCall = {
    method: 'PUT',
    base: connected.base,
    segments: ['internal', 'v1', 'engine-versions', version],
    body: JSON.stringify({ image_ref: image }),
    contentType: 'application/json',
  };
  const target = `PUT /${call.segments.map(encodeURIComponent).join('/')}`;
  let status: number;
  let text: string;
  try {
    const answer = await signedFetch(
      call,
      { service: 'execute-api', region: parsed.options.region, credentials: connected.credentials, date: deps.clock() },
      deps.fetch,
    );
    status = answer.status;
    text = await answer.text();
  } catch (err) {
    print(`${target} -> no answer (${messageOf(err)})`);
    return 1;
  }
  print(`${target} -> ${status} ${oneLine(text)}`);
  if (status === 201) {
    print(`created: ${version} names ${image}`);
    return 0;
  }
  if (status === 200) {
    print(`already there: ${version} names ${image} (nothing changed)`);
    return 0;
  }
  print(
    status === 409
      ? `refused: ${version} already names another image, and versions never change; release the image as a new version`
      : `refused: answered ${status}`,
  );
  return 1;
}
