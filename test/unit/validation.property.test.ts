/**
 * Property tests for request validation: no input, however malformed,
 * makes validation throw or answer without a message, and every body built
 * by the valid-body arbitrary is accepted unchanged.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  LIMITS,
  parseBody,
  type RegisterRequest,
  usableGameId,
  validateRegisterRequest,
  type Validation,
} from '../../lib/register-runtime/validation.ts';

const opts = { opSource: 'lobby_internal', allowedHosts: ['galaxy-game-*', '*.engines.internal'] } as const;
const ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

// ---------------------------------------------------------------- arbitraries

const nastyUnit = fc.constantFrom('\ud800', '\udfff', '\u0000', '\u001f', '\u007f', '\u0085', ' ', '\t', '\u00a0', '\u3000', 'é', '🚀', '"', '\\', '*', '/', '-', ',', '@', 'a', '0', '?', '#');

const anyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 80 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 3, arbitrary: fc.string({ unit: nastyUnit, maxLength: 30 }) },
  { weight: 2, arbitrary: fc.constantFrom('', ' ', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'null', '0 0 30 2 *', '@daily') },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('a', 'é', '🚀', ' ', '\u0000'), fc.nat({ max: 70_000 })).map(([c, n]) => c.repeat(n)) },
);

const anyJson = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }));

/** Anything that may stand where a string belongs. */
const anyFieldValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: anyString },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, [], {}) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: anyJson },
);

const validId = fc.stringMatching(ID);
const validVersion = fc.stringMatching(/^[A-Za-z0-9.+-]{1,64}$/);
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
const GO_BLANK = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$/;
const validRaceName = fc
  .oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 63 }), fc.string({ unit: 'grapheme-composite', minLength: 1, maxLength: 63 }))
  .map((s) => s.replace(CONTROL, '_'))
  .map((s) => (GO_BLANK.test(s) ? `R${s}` : s));

const validMembers = fc
  .oneof({ weight: 20, arbitrary: fc.integer({ min: 1, max: 12 }) }, { weight: 1, arbitrary: fc.constant(LIMITS.members) })
  .chain((n) =>
    fc.tuple(
      fc.uniqueArray(validId, { minLength: n, maxLength: n }),
      fc.uniqueArray(validRaceName, { minLength: n, maxLength: n }),
    ),
  )
  .map(([users, races]) => users.map((user_id, i) => ({ user_id, race_name: races[i] ?? 'unreachable' })));

function withRandomCase(word: string): fc.Arbitrary<string> {
  return fc.array(fc.boolean(), { minLength: word.length, maxLength: word.length }).map((flags) =>
    [...word].map((c, i) => (flags[i] ? c.toLowerCase() : c)).join(''),
  );
}

/** One cron field from the spec's grammar; day-of-month stays within 1-28 so the schedule always fires. */
function cronField(min: number, max: number, names: readonly string[] = []): fc.Arbitrary<string> {
  const value = fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min, max }).map(String) },
    ...(names.length > 0 ? [{ weight: 1, arbitrary: fc.integer({ min: 0, max: names.length - 1 }).chain((i) => withRandomCase(names[i] ?? '')) }] : []),
  );
  const range = fc.tuple(fc.integer({ min, max }), fc.integer({ min, max })).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`);
  const step = fc.integer({ min: 1, max: max - min + 2 });
  const item = fc.oneof(
    fc.constant('*'),
    value,
    range,
    step.map((s) => `*/${s}`),
    fc.tuple(range, step).map(([r, s]) => `${r}/${s}`),
    fc.tuple(fc.integer({ min, max }), step).map(([a, s]) => `${a}/${s}`),
  );
  return fc.array(item, { minLength: 1, maxLength: 3 }).map((items) => items.join(','));
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const separator = fc.constantFrom(' ', '  ', '\t', ' \t ');

const validSchedule = fc
  .tuple(
    cronField(0, 59),
    cronField(0, 23),
    cronField(1, 28),
    cronField(1, 12, MONTHS),
    cronField(0, 7, WEEKDAYS),
    fc.array(separator, { minLength: 4, maxLength: 4 }),
  )
  .map(([mi, h, dom, mo, dow, seps]) => [mi, h, dom, mo, dow].reduce((acc, field, i) => `${acc}${seps[i - 1] ?? ''}${field}`))
  .filter((s) => s.length <= LIMITS.turnScheduleLength);

const validEndpoint = fc
  .tuple(
    fc.constantFrom('http', 'https', 'HTTP', 'Https'),
    fc.oneof(
      fc.stringMatching(/^[a-z0-9-]{0,20}$/).map((label) => `galaxy-game-${label}`),
      fc.stringMatching(/^[A-Z0-9-]{0,10}$/).map((label) => `GALAXY-GAME-${label}`),
      fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,15}$/).map((label) => `${label}.engines.internal`),
    ),
    fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
    fc.array(fc.stringMatching(/^[A-Za-z0-9._~-]{1,12}$/), { maxLength: 4 }),
    fc.boolean(),
  )
  .map(([scheme, host, port, segments, trailingSlash]) => {
    const path = segments.length > 0 ? `/${segments.join('/')}` : '';
    return `${scheme}://${host}${port === undefined ? '' : `:${port}`}${path}${trailingSlash ? '/' : ''}`;
  });

const validBody: fc.Arbitrary<RegisterRequest> = fc.record({
  game_id: validId,
  engine_endpoint: validEndpoint,
  members: validMembers,
  target_engine_version: validVersion,
  turn_schedule: validSchedule,
});

const extraKey = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'extra', 'op_source'), fc.string({ maxLength: 12 }));
const extras = fc.array(fc.tuple(extraKey, anyJson), { maxLength: 4 });

/** Serialises entries in order, keeping `__proto__` as a literal JSON key. */
function jsonObject(entries: readonly (readonly [string, unknown])[]): string {
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v === undefined ? 'null' : JSON.stringify(v)}`).join(',')}}`;
}

type Edit = { kind: 'keep' } | { kind: 'drop' } | { kind: 'set'; value: unknown };
const edit: fc.Arbitrary<Edit> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Edit>({ kind: 'keep' }) },
  { weight: 1, arbitrary: fc.constant<Edit>({ kind: 'drop' }) },
  { weight: 2, arbitrary: anyFieldValue.map<Edit>((value) => ({ kind: 'set', value })) },
);

function memberJson(member: { user_id: string; race_name: string }, userEdit: Edit, raceEdit: Edit, more: readonly (readonly [string, unknown])[]): string {
  const entries: [string, unknown][] = [];
  const put = (key: string, original: string, e: Edit) => {
    if (e.kind === 'keep') entries.push([key, original]);
    else if (e.kind === 'set') entries.push([key, e.value]);
  };
  put('user_id', member.user_id, userEdit);
  put('race_name', member.race_name, raceEdit);
  return jsonObject([...more, ...entries]);
}

/** A valid body with some fields dropped, retyped or replaced, some members broken, and extra keys: as JSON text. */
const nearValidJson: fc.Arbitrary<string> = fc
  .tuple(
    validBody,
    fc.array(edit, { minLength: 5, maxLength: 5 }),
    fc.array(fc.tuple(fc.nat(), edit, edit, extras), { maxLength: 3 }),
    fc.oneof({ weight: 4, arbitrary: fc.constant<unknown>(undefined) }, anyFieldValue, fc.array(anyFieldValue, { maxLength: 3 })),
    extras,
    fc.boolean(),
  )
  .map(([body, edits, memberEdits, membersReplacement, more, extrasFirst]) => {
    const memberTexts = body.members.map((m) => memberJson(m, { kind: 'keep' }, { kind: 'keep' }, []));
    for (const [at, userEdit, raceEdit, memberExtras] of memberEdits) {
      const i = at % body.members.length;
      memberTexts[i] = memberJson(body.members[i] ?? { user_id: '', race_name: '' }, userEdit, raceEdit, memberExtras);
    }
    const keys = ['game_id', 'engine_endpoint', 'members', 'target_engine_version', 'turn_schedule'] as const;
    const parts: string[] = [];
    keys.forEach((key, i) => {
      const e = edits[i] ?? { kind: 'keep' };
      if (e.kind === 'drop') return;
      if (key === 'members') {
        const text =
          e.kind === 'set' ? JSON.stringify(e.value ?? null) : membersReplacement !== undefined && memberEdits.length === 0 ? JSON.stringify(membersReplacement) : `[${memberTexts.join(',')}]`;
        parts.push(`"members":${text}`);
      } else {
        parts.push(`${JSON.stringify(key)}:${JSON.stringify(e.kind === 'set' ? (e.value ?? null) : body[key])}`);
      }
    });
    const extraText = jsonObject(more).slice(1, -1);
    const all = extraText === '' ? parts : extrasFirst ? [extraText, ...parts] : [...parts, extraText];
    return `{${all.join(',')}}`;
  });

// ---------------------------------------------------------------- invariants

function assertAnswer(result: Validation<RegisterRequest>): void {
  if (result.ok) {
    const v = result.value;
    expect(ID.test(v.game_id)).toBe(true);
    expect(v.members.length).toBeGreaterThan(0);
    expect(v.members.length).toBeLessThanOrEqual(LIMITS.members);
    expect(Object.keys(v).sort()).toEqual(['engine_endpoint', 'game_id', 'members', 'target_engine_version', 'turn_schedule']);
  } else {
    expect(typeof result.message).toBe('string');
    expect(result.message.length).toBeGreaterThan(0);
  }
}

function assertUsableGameId(raw: unknown): void {
  const id = usableGameId(raw);
  if (id !== undefined) {
    expect(ID.test(id)).toBe(true);
    expect(Object.getOwnPropertyDescriptor(raw as object, 'game_id')?.value).toBe(id);
  }
}

describe('Property: validateRegisterRequest and usableGameId', () => {
  it('never throw on arbitrary values, and always answer with a message', () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withBoxedValues: true, withMap: true, withSet: true, withSparseArray: true, withBigInt: true, withDate: true, withObjectString: true }), (raw) => {
        // Act
        const result = validateRegisterRequest(raw, opts);
        // Assess
        assertAnswer(result);
        assertUsableGameId(raw);
      }),
      { numRuns: 1500 },
    );
  });

  it('never throw on arbitrary JSON bodies, parsed the way the handler parses them', () => {
    fc.assert(
      fc.property(fc.oneof(fc.json({ maxDepth: 3 }), anyString), fc.boolean(), (text, base64) => {
        // Prepare
        const body = base64 ? Buffer.from(text).toString('base64') : text;
        // Act
        const parsed = parseBody(body, base64);
        // Assess
        if (!parsed.ok) {
          expect(parsed.message.length).toBeGreaterThan(0);
          return;
        }
        assertAnswer(validateRegisterRequest(parsed.value, opts));
        assertUsableGameId(parsed.value);
      }),
      { numRuns: 1500 },
    );
  });

  it('never throw on near-valid bodies (wrong types, missing and extra keys, __proto__, huge and unicode strings)', () => {
    const before = Object.keys(Object.prototype).length;
    fc.assert(
      fc.property(nearValidJson, (text) => {
        // Prepare
        const raw = JSON.parse(text) as unknown;
        // Act
        const result = validateRegisterRequest(raw, opts);
        // Assess
        assertAnswer(result);
        assertUsableGameId(raw);
        expect(({} as Record<string, unknown>).game_id).toBeUndefined();
      }),
      { numRuns: 2500 },
    );
    expect(Object.keys(Object.prototype)).toHaveLength(before);
  });

  it('accept every valid body, unchanged, with extra keys ignored', () => {
    fc.assert(
      fc.property(validBody, extras, fc.boolean(), (body, more, base64) => {
        // Prepare
        const text = jsonObject([...more, ...Object.entries(body)]);
        const parsed = parseBody(base64 ? Buffer.from(text).toString('base64') : text, base64);
        // Act
        const result = parsed.ok ? validateRegisterRequest(parsed.value, opts) : parsed;
        // Assess
        expect(result).toEqual({ ok: true, value: body });
        expect(usableGameId(parsed.ok ? parsed.value : undefined)).toBe(body.game_id);
      }),
      { numRuns: 1000 },
    );
  });

  it('report the seed check, not a later one, when a valid body loses its game_id', () => {
    fc.assert(
      fc.property(validBody, fc.constantFrom<unknown>(undefined, null, '', ' ', '\u3000\t'), (body, gameId) => {
        // Prepare
        const raw = { ...body, game_id: gameId };
        // Act
        const result = validateRegisterRequest(raw, opts);
        // Assess
        expect(result).toEqual({ ok: false, message: 'game id must not be empty' });
        expect(usableGameId(raw)).toBeUndefined();
      }),
      { numRuns: 200 },
    );
  });
});
