/**
 * The published contract as a test oracle. docs/openapi.yaml and
 * docs/events/runtime_snapshot_update.schema.json are the one source of
 * truth: this module compiles their schemas (ajv, JSON Schema 2020-12, the
 * dialect of OpenAPI 3.1) and checks answers, request bodies and event
 * details against them. Nothing here restates the contract: a field, status,
 * code or header the code produces and the document does not describe fails.
 *
 * The integration harness routes every answer of a cold-started handler
 * (test/support/stack.ts) and every Detail the EventBridge double records
 * (test/support/eventbridge-server.ts) through here; violations are also
 * kept in a process-wide list that test/support/contract-setup.ts checks
 * after each test, so a violation swallowed by a test still fails it.
 */
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse as parseYaml } from 'yaml';

export const OPENAPI_PATH = fileURLToPath(new URL('../../docs/openapi.yaml', import.meta.url));
export const SNAPSHOT_SCHEMA_PATH = fileURLToPath(new URL('../../docs/events/runtime_snapshot_update.schema.json', import.meta.url));
/** How docs/openapi.yaml refers to the event schema. */
const SNAPSHOT_SCHEMA_REF = './events/runtime_snapshot_update.schema.json';
/** The id the document's component schemas are registered under in ajv. */
const DOC_ID = 'urn:gm:openapi';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export interface Answer {
  statusCode?: number;
  headers?: Record<string, unknown>;
  body?: string;
}

export interface OperationRef {
  method: string;
  template: string;
  operation: JsonObject;
}

// ---------------------------------------------------------------------------
// Violations recorded anywhere in the process (global, so that module
// registries reset by vi.resetModules() still share one list).

const VIOLATIONS = Symbol.for('game-master.contract.violations');
function violationList(): string[] {
  const holder = globalThis as unknown as Record<symbol, string[] | undefined>;
  holder[VIOLATIONS] ??= [];
  return holder[VIOLATIONS];
}
export function recordViolation(message: string): void {
  violationList().push(message);
}
/** Returns and forgets the violations recorded so far. */
export function takeViolations(): string[] {
  return violationList().splice(0);
}

// ---------------------------------------------------------------------------
// The documents, loaded and compiled once per module instance, on first use.

interface Contract {
  doc: JsonObject;
  snapshotSchema: JsonObject;
  ajv: Ajv2020;
  snapshot: ValidateFunction;
}

let loaded: Contract | undefined;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep copy with the document's references made absolute, so that schemas compile outside the document. */
function absoluteRefs(node: Json, snapshotId: string): Json {
  if (Array.isArray(node)) return node.map((n) => absoluteRefs(n, snapshotId));
  if (!isObject(node)) return node;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$ref' && typeof value === 'string') {
      if (value.startsWith('#/components/schemas/')) out[key] = `${DOC_ID}#/$defs/${value.slice('#/components/schemas/'.length)}`;
      else if (value === SNAPSHOT_SCHEMA_REF) out[key] = snapshotId;
      else out[key] = value;
    } else {
      out[key] = absoluteRefs(value, snapshotId);
    }
  }
  return out;
}

export function contract(): Contract {
  if (loaded) return loaded;
  const doc = parseYaml(readFileSync(OPENAPI_PATH, 'utf8')) as JsonObject;
  const snapshotSchema = JSON.parse(readFileSync(SNAPSHOT_SCHEMA_PATH, 'utf8')) as JsonObject;
  const snapshotId = String(snapshotSchema.$id);
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false });
  const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (a: Ajv2020) => void;
  addFormats(ajv);
  ajv.addSchema(snapshotSchema);
  const components = (doc.components as JsonObject | undefined)?.schemas ?? {};
  ajv.addSchema({ $id: DOC_ID, $defs: absoluteRefs(components, snapshotId) } as object);
  loaded = { doc, snapshotSchema, ajv, snapshot: ajv.getSchema(snapshotId) as ValidateFunction };
  return loaded;
}

/** Resolves a local `#/...` reference of the document (one level or a chain). */
export function resolve(node: Json | undefined): Json | undefined {
  let current = node;
  for (let hops = 0; isObject(current) && typeof current.$ref === 'string' && current.$ref.startsWith('#/'); hops++) {
    if (hops > 10) throw new Error(`reference loop at ${current.$ref}`);
    let target: Json | undefined = contract().doc;
    for (const part of current.$ref.slice(2).split('/')) {
      const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
      target = isObject(target) ? target[key] : undefined;
    }
    if (target === undefined) throw new Error(`unresolvable reference ${current.$ref}`);
    current = target;
  }
  return current;
}

const compiled = new Map<string, ValidateFunction>();
/** Compiles a schema found in the document (inline or a reference), once per location. */
export function compileAt(location: string, schema: Json): ValidateFunction {
  let fn = compiled.get(location);
  if (!fn) {
    const { ajv } = contract();
    fn = ajv.compile(absoluteRefs(schema, String(contract().snapshotSchema.$id)) as object);
    compiled.set(location, fn);
  }
  return fn;
}

function explain(errors: ErrorObject[] | null | undefined, what: string): string[] {
  return (errors ?? []).map((e) => {
    const extra = e.keyword === 'additionalProperties' || e.keyword === 'unevaluatedProperties' ? ` (${JSON.stringify(e.params)})` : '';
    return `${what}${e.instancePath} ${e.message}${extra}`;
  });
}

// ---------------------------------------------------------------------------
// Routes.

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

function templateRegExp(template: string, capture = false): RegExp {
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part) => (part.startsWith('{') ? (capture ? '([^/]+)' : '[^/]+') : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`);
}

/** Every operation of the document. */
export function operations(): OperationRef[] {
  const paths = (contract().doc.paths ?? {}) as JsonObject;
  const out: OperationRef[] = [];
  for (const [template, item] of Object.entries(paths)) {
    if (!isObject(item)) continue;
    for (const method of METHODS) {
      const operation = item[method];
      if (isObject(operation)) out.push({ method: method.toUpperCase(), template, operation });
    }
  }
  return out;
}

/**
 * The operation serving a concrete request path. A literal template wins over
 * one with parameters (as API Gateway routes); undefined when none serves it.
 */
export function findOperation(method: string, path: string): OperationRef | undefined {
  const candidates = operations().filter((op) => op.method === method.toUpperCase() && templateRegExp(op.template).test(path));
  candidates.sort((a, b) => a.template.split('{').length - b.template.split('{').length);
  return candidates[0];
}

/** Codes answered only outside API Gateway's routes (`x-handler-only-errors`), with their status. */
export function handlerOnlyErrors(): { code: string; status: number }[] {
  const list = contract().doc['x-handler-only-errors'];
  return Array.isArray(list) ? list.filter(isObject).map((e) => ({ code: String(e.code), status: Number(e.status) })) : [];
}

/** Whether a documented response is one API Gateway gives itself (`x-answered-by: api-gateway`), never a function. */
export function answeredByApiGateway(response: Json | undefined): boolean {
  const resolved = resolve(response);
  return isObject(resolved) && resolved['x-answered-by'] === 'api-gateway';
}

/** The answers API Gateway gives itself (`x-api-gateway-answers`): status, when, and the response, resolved. */
export function apiGatewayAnswers(): { status: number; when: string; response: JsonObject }[] {
  const list = contract().doc['x-api-gateway-answers'];
  if (!Array.isArray(list)) return [];
  return list.filter(isObject).map((e) => ({ status: Number(e.status), when: String(e.when), response: resolve(e.response) as JsonObject }));
}

// ---------------------------------------------------------------------------
// Answers.

function lowerCaseHeaders(headers: Record<string, unknown> | undefined): Map<string, string> {
  return new Map(Object.entries(headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
}

function headerValue(raw: string, schema: Json | undefined): unknown {
  const type = isObject(schema) ? schema.type : undefined;
  if ((type === 'integer' || type === 'number') && /^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  if (type === 'boolean' && (raw === 'true' || raw === 'false')) return raw === 'true';
  return raw;
}

function parseBody(body: string | undefined): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(String(body)) };
  } catch {
    return { ok: false };
  }
}

function errorCodeOf(value: unknown): string | undefined {
  if (!isObject(value as Json) || !isObject((value as JsonObject).error)) return undefined;
  const code = ((value as JsonObject).error as JsonObject).code;
  return typeof code === 'string' ? code : undefined;
}

/** What is wrong with an answer to `method path`, by the document; [] when it conforms. */
export function answerProblems(method: string, path: string, answer: Answer): string[] {
  const status = answer.statusCode ?? 200;
  const where = `${method.toUpperCase()} ${path} -> ${status}`;
  const op = findOperation(method, path);
  const headers = lowerCaseHeaders(answer.headers);
  const parsed = parseBody(answer.body);
  const code = parsed.ok ? errorCodeOf(parsed.value) : undefined;
  const handlerOnly = handlerOnlyErrors().some((e) => e.status === status && e.code === code);

  // Only a handler-only error (route_not_found) may answer a request no route
  // serves; it may also answer a documented route's request handed to a
  // function that does not serve that route (invoked directly, not through
  // API Gateway).
  if (!op || handlerOnly) {
    const allowed = handlerOnlyErrors().filter((e) => e.status === status);
    const problems: string[] = [];
    if (!allowed.some((e) => e.code === code)) {
      problems.push(`${where}: no documented route serves it, and the answer is not one of x-handler-only-errors (got code ${String(code)})`);
    }
    const errorShape = compileAt('#/components/schemas/ErrorDetail', { $ref: '#/components/schemas/ErrorDetail' });
    if (parsed.ok && isObject(parsed.value as Json) && !errorShape((parsed.value as JsonObject).error)) {
      problems.push(...explain(errorShape.errors, `${where}: body.error`));
    }
    if (!headers.get('content-type')?.startsWith('application/json')) problems.push(`${where}: Content-Type is not application/json`);
    return problems;
  }

  const opWhere = `${method.toUpperCase()} ${op.template} -> ${status} (${path})`;
  const responses = (op.operation.responses ?? {}) as JsonObject;
  const response = resolve(responses[String(status)] ?? responses.default);
  if (!isObject(response)) {
    return [`${opWhere}: status ${status} is not documented for this route (documented: ${Object.keys(responses).join(', ')})`];
  }
  if (answeredByApiGateway(response)) {
    return [`${opWhere}: status ${status} is documented as API Gateway's own answer (x-answered-by: api-gateway); a function never gives it`];
  }
  const problems: string[] = [];

  // Content type and body.
  const content = (response.content ?? {}) as JsonObject;
  const mediaTypes = Object.keys(content);
  const contentType = headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
  if (mediaTypes.length === 0) {
    if (answer.body) problems.push(`${opWhere}: the document promises no body, the answer has one`);
  } else if (!contentType || !mediaTypes.includes(contentType)) {
    problems.push(`${opWhere}: Content-Type ${String(contentType)} is not one of ${mediaTypes.join(', ')}`);
  } else if (!parsed.ok) {
    problems.push(`${opWhere}: body is not JSON: ${String(answer.body).slice(0, 200)}`);
  } else {
    const media = content[contentType] as JsonObject;
    const validate = compileAt(`${op.method} ${op.template} ${status} ${contentType}`, media.schema ?? {});
    if (!validate(parsed.value)) problems.push(...explain(validate.errors, `${opWhere}: body`));
  }

  // Headers: the declared ones conform, the required ones are there, nothing undeclared.
  const declared = new Map<string, JsonObject>();
  for (const [name, raw] of Object.entries((response.headers ?? {}) as JsonObject)) {
    const header = resolve(raw);
    if (isObject(header)) declared.set(name.toLowerCase(), header);
  }
  for (const [name, header] of declared) {
    const value = headers.get(name);
    const forCodes = Array.isArray(header['x-required-for-codes']) ? (header['x-required-for-codes'] as Json[]).map(String) : undefined;
    const required = header.required === true || (forCodes !== undefined && code !== undefined && forCodes.includes(code));
    if (value === undefined) {
      if (required) problems.push(`${opWhere}: required header ${name} is missing${code ? ` (code ${code})` : ''}`);
      continue;
    }
    if (forCodes !== undefined && (code === undefined || !forCodes.includes(code))) {
      problems.push(`${opWhere}: header ${name} is documented only for codes ${forCodes.join(', ')}, the answer's code is ${String(code)}`);
    }
    const validate = compileAt(`${op.method} ${op.template} ${status} header ${name}`, header.schema ?? {});
    if (!validate(headerValue(value, header.schema))) problems.push(...explain(validate.errors, `${opWhere}: header ${name}`));
  }
  for (const name of headers.keys()) {
    if (name !== 'content-type' && !declared.has(name)) problems.push(`${opWhere}: header ${name} is not documented for this answer`);
  }
  return problems;
}

/** Throws, naming every problem, when an answer does not conform to the document. */
export function checkAnswer(method: string, path: string, answer: Answer): void {
  const problems = answerProblems(method, path, answer);
  if (problems.length > 0) throw new Error(`answer does not match docs/openapi.yaml:\n  ${problems.join('\n  ')}`);
}

/**
 * For an API Gateway (payload 2.0) event and the handler's result: checks the
 * answer against the document, routed by the event's method and raw path;
 * on a violation records it and throws. Other events (a schedule, a stream)
 * have no HTTP answer and pass.
 */
export function checkHttpAnswerOf(event: unknown, result: unknown): void {
  const e = event as { rawPath?: unknown; requestContext?: { http?: { method?: unknown } } } | undefined;
  const method = e?.requestContext?.http?.method;
  if (typeof method !== 'string' || typeof e?.rawPath !== 'string') return;
  const problems = answerProblems(method, e.rawPath, (result ?? {}) as Answer);
  if (problems.length === 0) {
    noteCovered(method, e.rawPath, (result ?? {}) as Answer);
    return;
  }
  const message = `answer does not match docs/openapi.yaml:\n  ${problems.join('\n  ')}`;
  recordViolation(message);
  throw new Error(message);
}

// ---------------------------------------------------------------------------
// Coverage: which documented answers the tests produced. Each worker appends
// what it saw to CONTRACT_COVERAGE_DIR (set by the integration setup); the
// global teardown reports the documented answers no test produced.

/** `METHOD template status code` of an answer (code empty for a success). */
function answerKey(op: OperationRef, status: number, code: string | undefined): string {
  return `${op.method} ${op.template} ${status} ${code ?? ''}`.trimEnd();
}

function noteCovered(method: string, path: string, answer: Answer): void {
  const dir = process.env.CONTRACT_COVERAGE_DIR;
  const op = findOperation(method, path);
  if (!dir || !op) return;
  const parsed = parseBody(answer.body);
  const code = parsed.ok ? errorCodeOf(parsed.value) : undefined;
  appendFileSync(join(dir, `${process.pid}.txt`), `${answerKey(op, answer.statusCode ?? 200, code)}\n`);
}

/** Every answer the document promises: one key per route, status and error code. */
export function documentedAnswers(): string[] {
  const keys: string[] = [];
  for (const op of operations()) {
    for (const [status, raw] of Object.entries((op.operation.responses ?? {}) as JsonObject)) {
      const response = resolve(raw) as JsonObject;
      // API Gateway's own answers (403) never come from a function: no test of the code can produce them.
      if (answeredByApiGateway(response)) continue;
      const schema = ((response.content as JsonObject | undefined)?.['application/json'] as JsonObject | undefined)?.schema;
      const codes = (((schema as any)?.properties?.error?.properties?.code?.enum ?? []) as string[]).filter(Boolean);
      if (codes.length === 0) keys.push(answerKey(op, Number(status), undefined));
      for (const code of codes) keys.push(answerKey(op, Number(status), code));
    }
  }
  return keys;
}

/** The documented answers that none of the coverage files in `dir` recorded. */
export function uncoveredAnswers(dir: string): { seen: number; missing: string[] } {
  const seen = new Set<string>();
  for (const file of readdirSync(dir)) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) if (line) seen.add(line);
  }
  return { seen: seen.size, missing: documentedAnswers().filter((key) => !seen.has(key)) };
}

// ---------------------------------------------------------------------------
// Request bodies and the event.

/** What is wrong with a request body for `method path` by the document's request schema; [] when it conforms. */
export function requestBodyProblems(method: string, path: string, body: unknown): string[] {
  const op = findOperation(method, path);
  if (!op) return [`${method.toUpperCase()} ${path}: no documented route serves it`];
  const requestBody = resolve(op.operation.requestBody);
  if (!isObject(requestBody)) return body === undefined || body === null ? [] : [`${op.method} ${op.template}: takes no body`];
  const media = ((requestBody.content ?? {}) as JsonObject)['application/json'];
  if (!isObject(media)) return [`${op.method} ${op.template}: no application/json request body`];
  const validate = compileAt(`${op.method} ${op.template} request`, media.schema ?? {});
  return validate(body) ? [] : explain(validate.errors, `${op.method} ${op.template}: request body`);
}

/** A sample API Gateway (payload 2.0) request, as in events/. */
export interface RequestEvent {
  rawPath: string;
  rawQueryString?: string;
  headers?: Record<string, string | undefined>;
  body?: string | null;
  isBase64Encoded?: boolean;
  requestContext: { http: { method: string } };
}

/** A path segment as the function sees it in `pathParameters` (decoded; malformed escapes kept as they are). */
function decodePathSegment(segment: string | undefined): string | undefined {
  if (segment === undefined) return undefined;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The parameters of an operation (path-level ones, overridden by the operation's own), resolved. */
function parametersOf(op: OperationRef): JsonObject[] {
  const item = (contract().doc.paths as JsonObject)[op.template] as JsonObject;
  const byKey = new Map<string, JsonObject>();
  for (const raw of [...((item.parameters as Json[]) ?? []), ...((op.operation.parameters as Json[]) ?? [])]) {
    const param = resolve(raw);
    if (isObject(param)) byKey.set(`${String(param.in)} ${String(param.name).toLowerCase()}`, param);
  }
  return [...byKey.values()];
}

/**
 * What is wrong with a whole request by the document: its route, path and
 * query parameters, declared headers and JSON body; [] when it conforms.
 */
export function requestProblems(event: RequestEvent): string[] {
  const method = event.requestContext.http.method;
  const op = findOperation(method, event.rawPath);
  if (!op) return [`${method.toUpperCase()} ${event.rawPath}: no documented route serves it`];
  const where = `${op.method} ${op.template}`;
  const names = [...op.template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
  const values = templateRegExp(op.template, true).exec(event.rawPath)?.slice(1) ?? [];
  const pathValues = new Map(names.map((name, i) => [name, values[i]]));
  const query = new URLSearchParams(event.rawQueryString ?? '');
  const headers = lowerCaseHeaders(event.headers);
  const problems: string[] = [];
  for (const param of parametersOf(op)) {
    const name = String(param.name);
    let raw: string | undefined;
    if (param.in === 'path') raw = decodePathSegment(pathValues.get(name));
    else if (param.in === 'query') raw = query.get(name) ?? undefined;
    else if (param.in === 'header') raw = headers.get(name.toLowerCase());
    if (raw === undefined) {
      if (param.required === true) problems.push(`${where}: required ${String(param.in)} parameter ${name} is missing`);
      continue;
    }
    const validate = compileAt(`${where} ${String(param.in)} ${name}`, param.schema ?? {});
    if (!validate(headerValue(raw, param.schema))) problems.push(...explain(validate.errors, `${where}: ${String(param.in)} ${name}`));
  }
  const text = event.body == null ? undefined : event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  let body: unknown;
  try {
    body = text === undefined ? undefined : JSON.parse(text);
  } catch {
    return [...problems, `${where}: body is not JSON`];
  }
  return [...problems, ...requestBodyProblems(method, event.rawPath, body)];
}

export function checkRequestBody(method: string, path: string, body: unknown): void {
  const problems = requestBodyProblems(method, path, body);
  if (problems.length > 0) throw new Error(`request body does not match docs/openapi.yaml:\n  ${problems.join('\n  ')}`);
}

/**
 * What a consumer validating by the event schema alone finds wrong with a
 * Detail; [] when it conforms. The schema is open (the event grows by adding
 * fields, and consumers ignore the fields they do not know), so an extra
 * field passes here.
 */
export function snapshotSchemaProblems(detail: unknown): string[] {
  const { snapshot } = contract();
  return snapshot(detail) ? [] : explain(snapshot.errors, 'Detail');
}

/** The fields of the event schema's object at `path` ('' for the Detail, 'player_turn_stats' for an entry). */
function documentedSnapshotFields(path: '' | 'player_turn_stats'): Set<string> {
  const root = contract().snapshotSchema;
  const schema = path === '' ? root : (((root.properties as JsonObject)[path] as JsonObject).items as JsonObject);
  return new Set(Object.keys((schema.properties ?? {}) as JsonObject));
}

/**
 * What is wrong with a Detail the code published: the schema's problems, and
 * any field the schema does not list. The schema lets consumers accept
 * fields it does not know; the code must not send one the document lacks (a
 * field is added to the document first).
 */
export function snapshotDetailProblems(detail: unknown): string[] {
  const problems = snapshotSchemaProblems(detail);
  if (!isObject(detail as Json)) return problems;
  const top = documentedSnapshotFields('');
  for (const key of Object.keys(detail as JsonObject)) if (!top.has(key)) problems.push(`Detail has the undocumented field ${key}`);
  const stats = (detail as JsonObject).player_turn_stats;
  if (Array.isArray(stats)) {
    const fields = documentedSnapshotFields('player_turn_stats');
    stats.forEach((entry, i) => {
      if (!isObject(entry)) return;
      for (const key of Object.keys(entry)) if (!fields.has(key)) problems.push(`Detail/player_turn_stats/${i} has the undocumented field ${key}`);
    });
  }
  return problems;
}

export function checkSnapshotDetail(detail: unknown): void {
  const problems = snapshotDetailProblems(detail);
  if (problems.length > 0) throw new Error(`Detail does not match docs/events/runtime_snapshot_update.schema.json:\n  ${problems.join('\n  ')}`);
}
