/**
 * Request validation for POST /internal/v1/runtimes (spec: "Validation").
 *
 * Order: the body (size, JSON, object), the shape (wrong JSON types), the Go
 * seed's eight checks in its order and with its messages, then the limits
 * table (in field order), the cron expression, the endpoint URL and the host
 * allowlist. First failure wins.
 *
 * Choices:
 * - Lengths count Unicode code points (a surrogate pair is one character).
 *   game_id, user_id and target_engine_version are ASCII by their character
 *   sets, so for them code points and UTF-16 units agree.
 * - "Letters, digits" in the character sets are ASCII letters and digits.
 * - "Blank" follows Go's strings.TrimSpace (Unicode White_Space as Go's
 *   unicode.IsSpace sees it), not String.prototype.trim.
 * - `reconciler` is not a supported op source here: the validation list is
 *   `lobby_internal`, `admin_rest`; `reconciler` only appears in the
 *   operation log for reclaims, it never registers a runtime.
 * - Quoted values in the seed's messages (`op source "x"`, `duplicate entries
 *   for "x"`) are quoted like Go's %q.
 * - The shape is a valibot schema (RequestShape); it reads own data
 *   properties only, so `__proto__`, `constructor` and getters never change
 *   what is read. The seed's checks and the limits are ordered plain
 *   functions: their order and messages are the contract.
 */
import * as v from 'valibot';
import { hostAllowed } from '../domain/host-glob.ts';
import { cronProblem } from '../domain/schedule.ts';

export interface RegisterMember {
  user_id: string;
  race_name: string;
}

export interface RegisterRequest {
  game_id: string;
  engine_endpoint: string;
  members: RegisterMember[];
  target_engine_version: string;
  turn_schedule: string;
}

export const LIMITS = {
  bodyBytes: 262144,
  members: 500,
  idLength: 128,
  raceNameLength: 64,
  versionLength: 64,
  turnScheduleLength: 128,
  engineEndpointLength: 2048,
  idempotencyKeyLength: 255,
} as const;

export type Validation<T> = { ok: true; value: T } | { ok: false; message: string };

/** Op sources a registration may carry (spec, Validation check 7). */
export const REGISTER_OP_SOURCES: readonly string[] = ['lobby_internal', 'admin_rest'];

export const NOT_AN_OBJECT = 'request body must be a JSON object';
/** The spec has one message for a body that is not a JSON object, parsable or not. */
const NOT_JSON = NOT_AN_OBJECT;
/** Values quoted in messages are cut here, so a message never echoes a huge input. */
const MAX_QUOTED = 128;

const ID_PATTERN = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._:@-]{0,${LIMITS.idLength - 1}}$`);
const VERSION_PATTERN = new RegExp(`^[A-Za-z0-9.+-]{1,${LIMITS.versionLength}}$`);
export const ID_RULE = `must be 1 to ${LIMITS.idLength} characters: letters, digits, . _ : @ -, starting with a letter or digit`;
export const VERSION_RULE = `must be 1 to ${LIMITS.versionLength} characters: letters, digits, . + -`;
const RACE_NAME_RULE = `must be at most ${LIMITS.raceNameLength} characters without control characters`;
/** C0 controls, DEL and C1 controls. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** Go's unicode.IsSpace: what strings.TrimSpace removes. */
const GO_BLANK = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$/;
const IDEMPOTENCY_KEY_PATTERN = new RegExp(`^[\\x20-\\x7e]{1,${LIMITS.idempotencyKeyLength}}$`);

/** Number of Unicode code points (a lone surrogate counts as one). */
export function codePointLength(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

function isBlank(text: string): boolean {
  return GO_BLANK.test(text);
}

/** Go's strconv.Quote (what %q prints), for the seed's messages; cut after MAX_QUOTED characters (then `...` follows). */
export function goQuote(text: string): string {
  const chars = [...text];
  const cut = chars.length > MAX_QUOTED;
  let out = '"';
  for (const ch of cut ? chars.slice(0, MAX_QUOTED) : chars) {
    const cp = ch.codePointAt(0) ?? 0xfffd;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\ufffd'; // Go has no lone surrogates: its JSON decoder makes them U+FFFD.
    else if (ch === ' ' || /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch)) out += ch;
    else if (ch === '\u0007') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\v') out += '\\v';
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return cut ? `${out}"...` : `${out}"`;
}

export function isPlainObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An own data property's value; never a getter, never the prototype chain. */
export function own(obj: object, key: string): unknown {
  const descriptor = Object.getOwnPropertyDescriptor(obj, key);
  return descriptor !== undefined && 'value' in descriptor ? descriptor.value : undefined;
}

/**
 * Decodes an API Gateway body (base64 or not), enforces the byte limit,
 * parses JSON. A missing, empty, non-UTF-8 or non-JSON body is "request
 * body must be a JSON object" (the spec's one message for it). `bytes` is
 * the decoded body's size when known.
 */
export function parseBody(body: string | undefined, isBase64Encoded: boolean): Validation<unknown> & { bytes?: number } {
  if (typeof body !== 'string' || body === '') return { ok: false, message: NOT_AN_OBJECT };
  let text: string;
  let bytes: number;
  if (isBase64Encoded) {
    const raw = Buffer.from(body, 'base64');
    bytes = raw.byteLength;
    if (bytes === 0) return { ok: false, message: NOT_AN_OBJECT, bytes };
    if (bytes > LIMITS.bodyBytes) return { ok: false, message: bodyTooLarge(), bytes };
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(raw);
    } catch {
      return { ok: false, message: NOT_JSON, bytes };
    }
  } else {
    bytes = Buffer.byteLength(body, 'utf8');
    if (bytes > LIMITS.bodyBytes) return { ok: false, message: bodyTooLarge(), bytes };
    text = body;
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown, bytes };
  } catch {
    return { ok: false, message: NOT_JSON, bytes };
  }
}

function bodyTooLarge(): string {
  return `request body must be at most ${LIMITS.bodyBytes} bytes`;
}

/** `members[2].user_id` from a valibot issue path ("" at the top). */
function fieldLabel(issue: v.BaseIssue<unknown>): string {
  let label = '';
  for (const item of issue.path ?? []) {
    const key = item.key as string | number;
    label += typeof key === 'number' ? `[${key}]` : label === '' ? key : `.${key}`;
  }
  return label;
}

/** A string field: another JSON type is named; missing or null reads as "". */
const Text = v.pipe(
  v.nullish(v.string('must be a string')),
  v.transform((value) => value ?? ''),
);

/**
 * A plain object, reduced to its own data properties among `keys`: nothing
 * inherited, no getter run, unknown keys (`__proto__` among them) dropped.
 */
const OwnFields = (keys: readonly string[], message: string) =>
  v.pipe(
    v.custom<object>(isPlainObject, message),
    v.transform((obj) => Object.fromEntries(keys.map((key) => [key, own(obj, key)]))),
  );

/** A member; a null one counts as empty (the seed decodes it to a zero Member). */
const MemberShape = v.pipe(
  v.unknown(),
  v.transform((member) => member ?? {}),
  OwnFields(['user_id', 'race_name'], 'must be an object'),
  v.object({ user_id: Text, race_name: Text }),
);

/** The body's shape, checked in field order; the first problem wins. */
const RequestShape = v.pipe(
  OwnFields(['game_id', 'engine_endpoint', 'members', 'target_engine_version', 'turn_schedule'], NOT_AN_OBJECT),
  v.object({
    game_id: Text,
    engine_endpoint: Text,
    members: v.pipe(
      v.nullish(v.array(MemberShape, 'must be an array')),
      v.transform((members) => members ?? []),
    ),
    target_engine_version: Text,
    turn_schedule: Text,
  }),
);

function checkShape(raw: unknown): Validation<RegisterRequest> {
  const result = v.safeParse(RequestShape, raw, { abortEarly: true });
  if (result.success) return { ok: true, value: result.output as RegisterRequest };
  const issue = result.issues[0];
  if (issue === undefined) return { ok: false, message: NOT_AN_OBJECT };
  const label = fieldLabel(issue);
  return { ok: false, message: label === '' ? issue.message : `${label} ${issue.message}` };
}

/** The seed's firstDuplicateMember: the first user_id or race_name seen twice, walking the roster once. */
export function firstDuplicateMember(members: readonly RegisterMember[]): string | undefined {
  const users = new Set<string>();
  const races = new Set<string>();
  for (const member of members) {
    if (users.has(member.user_id)) return member.user_id;
    users.add(member.user_id);
    if (races.has(member.race_name)) return member.race_name;
    races.add(member.race_name);
  }
  return undefined;
}

/** The seed's Validate, in its order, with its messages. */
function seedProblem(input: RegisterRequest, opSource: string): string | undefined {
  if (isBlank(input.game_id)) return 'game id must not be empty';
  if (isBlank(input.engine_endpoint)) return 'engine endpoint must not be empty';
  if (input.members.length === 0) return 'members must not be empty';
  for (const [i, member] of input.members.entries()) {
    if (isBlank(member.user_id)) return `members[${i}]: user id must not be empty`;
    if (isBlank(member.race_name)) return `members[${i}]: race name must not be empty`;
  }
  if (isBlank(input.target_engine_version)) return 'target engine version must not be empty';
  if (isBlank(input.turn_schedule)) return 'turn schedule must not be empty';
  if (!REGISTER_OP_SOURCES.includes(opSource)) return `op source ${goQuote(opSource)} is unsupported`;
  const duplicate = firstDuplicateMember(input.members);
  if (duplicate !== undefined) return `members carry duplicate entries for ${goQuote(duplicate)}`;
  return undefined;
}

/** The game_id / user_id rule (also for path parameters of the read routes). */
export function isValidId(value: string): boolean {
  return ID_PATTERN.test(value);
}

/** The target_engine_version rule (also for the `version` path parameter). */
export function isValidVersion(value: string): boolean {
  return VERSION_PATTERN.test(value);
}

/** The limits table, in field order. */
function limitProblem(input: RegisterRequest): string | undefined {
  if (!isValidId(input.game_id)) return `game_id ${ID_RULE}`;
  if (codePointLength(input.engine_endpoint) > LIMITS.engineEndpointLength) {
    return `engine_endpoint must be at most ${LIMITS.engineEndpointLength} characters`;
  }
  if (input.members.length > LIMITS.members) return `members must have at most ${LIMITS.members} entries`;
  for (const [i, member] of input.members.entries()) {
    if (!isValidId(member.user_id)) return `members[${i}].user_id ${ID_RULE}`;
    const race = member.race_name;
    if (codePointLength(race) > LIMITS.raceNameLength || CONTROL.test(race)) return `members[${i}].race_name ${RACE_NAME_RULE}`;
    if (!race.isWellFormed()) return `members[${i}].race_name must be well-formed Unicode text (no lone surrogates)`;
  }
  if (!isValidVersion(input.target_engine_version)) return `target_engine_version ${VERSION_RULE}`;
  if (codePointLength(input.turn_schedule) > LIMITS.turnScheduleLength) {
    return `turn_schedule must be at most ${LIMITS.turnScheduleLength} characters`;
  }
  return undefined;
}

/**
 * The endpoint as a URL: absolute http(s), no credentials, query or fragment
 * (not even an empty one), host allowed. The raw text must start with
 * `http://` or `https://` followed by the host, and hold no whitespace or
 * control character (which the URL parser would silently strip), so the
 * host judged here is the host the engine client connects to.
 */
export function endpointProblem(endpoint: string, allowedHosts: readonly string[]): string | undefined {
  const notAbsolute = 'engine_endpoint must be an absolute http or https URL';
  if (!/^https?:\/\/[^/\\]/i.test(endpoint) || /[\u0000-\u0020\u007f-\u009f]/.test(endpoint)) return notAbsolute;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return notAbsolute;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') return notAbsolute;
  const authority = endpoint.slice(endpoint.indexOf('//') + 2).split(/[/?#\\]/, 1)[0] ?? '';
  if (url.username !== '' || url.password !== '' || authority.includes('@')) {
    return 'engine_endpoint must not carry a username or password';
  }
  // In the serialised URL the first "#" starts the fragment and, before it, the first "?" starts the query.
  const hashAt = url.href.indexOf('#');
  const beforeFragment = hashAt === -1 ? url.href : url.href.slice(0, hashAt);
  if (beforeFragment.includes('?')) return 'engine_endpoint must not carry a query';
  if (hashAt !== -1) return 'engine_endpoint must not carry a fragment';
  if (!hostAllowed(url.hostname, allowedHosts)) {
    return `engine_endpoint host ${JSON.stringify(url.hostname)} is not allowed by ENGINE_ALLOWED_HOSTS`;
  }
  return undefined;
}

function validate(raw: unknown, opts: { opSource: string; allowedHosts: readonly string[] }): Validation<RegisterRequest> {
  const shape = checkShape(raw);
  if (!shape.ok) return shape;
  const input = shape.value;
  const problem =
    seedProblem(input, opts.opSource) ??
    limitProblem(input) ??
    schedulePart(input.turn_schedule) ??
    endpointProblem(input.engine_endpoint, opts.allowedHosts);
  if (problem !== undefined) return { ok: false, message: problem };
  return { ok: true, value: input };
}

function schedulePart(schedule: string): string | undefined {
  const problem = cronProblem(schedule);
  return problem === undefined ? undefined : `turn_schedule is not a valid cron expression: ${problem}`;
}

/**
 * Shape checks, then the seed's eight checks in order with its messages,
 * then limits, cron, endpoint URL and host allowlist. opSource is supplied
 * by the route (not from the body). Never throws: an input that cannot even
 * be read (a throwing proxy) is "request body must be a JSON object".
 */
export function validateRegisterRequest(
  raw: unknown,
  opts: { opSource: string; allowedHosts: readonly string[] },
): Validation<RegisterRequest> {
  try {
    return validate(raw, opts);
  } catch {
    return { ok: false, message: NOT_AN_OBJECT };
  }
}

/**
 * The game_id to audit an invalid request under: the raw body's game_id if
 * it is a string that passes the game_id rules (non-blank, length, charset),
 * else undefined (the caller uses the `_unidentified` partition). Never throws.
 */
export function usableGameId(raw: unknown): string | undefined {
  try {
    if (!isPlainObject(raw)) return undefined;
    const gameId = own(raw, 'game_id');
    return typeof gameId === 'string' && isValidId(gameId) ? gameId : undefined;
  } catch {
    return undefined;
  }
}

/** Idempotency-Key header rule: undefined when valid, else the invalid_request message naming the header and the limit. */
export function idempotencyKeyProblem(key: string): string | undefined {
  if (typeof key === 'string' && IDEMPOTENCY_KEY_PATTERN.test(key)) return undefined;
  return `Idempotency-Key header must be 1 to ${LIMITS.idempotencyKeyLength} printable ASCII characters (space to ~)`;
}
