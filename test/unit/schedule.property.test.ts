/**
 * Property tests for turn schedules against a brute-force reference written
 * here from the spec alone: it walks forward from the instant one minute at a
 * time (a whole day at a time while the day does not match, a whole hour at a
 * time while the hour does not), interpreting each field's raw text item by
 * item and combining the day fields by the Vixie rule on that raw text (a day
 * field beginning with `*` is unrestricted; OR when neither is, else AND).
 *
 * Replay a failure with FC_SEED=<seed> (and FC_PATH=<path>) from its report.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cronProblem, nextFireAfter } from '../../lib/domain/schedule.ts';

const replay = {
  seed: process.env['FC_SEED'] ? Number(process.env['FC_SEED']) : undefined,
  path: process.env['FC_PATH'] || undefined,
};

// ---------------------------------------------------------------- reference

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface Range {
  readonly min: number;
  readonly max: number;
  /** Name of value `first + i` at index i. */
  readonly names?: readonly string[];
  readonly first?: number;
}

const MINUTE: Range = { min: 0, max: 59 };
const HOUR: Range = { min: 0, max: 23 };
const DOM: Range = { min: 1, max: 31 };
const MONTH: Range = { min: 1, max: 12, names: MONTHS, first: 1 };
const DOW: Range = { min: 0, max: 7, names: WEEKDAYS, first: 0 };

function refValue(token: string, r: Range): number {
  const i = r.names?.indexOf(token.toUpperCase()) ?? -1;
  return i >= 0 ? i + (r.first ?? 0) : Number(token);
}

/** Does one comma-separated item of a field's raw text cover v? */
function itemCovers(item: string, r: Range, v: number): boolean {
  const [base = '', step] = item.split('/');
  const [a = '', b] = base.split('-');
  const lo = base === '*' ? r.min : refValue(a, r);
  const hi = base === '*' ? r.max : b !== undefined ? refValue(b, r) : step !== undefined ? r.max : lo;
  const n = step === undefined ? 1 : Number(step);
  return v >= lo && v <= hi && (v - lo) % n === 0;
}

/** A field's raw text as a predicate (day of week: 7 is Sunday too). */
function refField(text: string, r: Range): (v: number) => boolean {
  const items = text.split(',');
  const covers = (v: number) => items.some((item) => itemCovers(item, r, v));
  return r === DOW ? (v) => covers(v) || (v === 0 && covers(7)) : covers;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** The first fire strictly after `after` and no later than `until` (epoch ms), or undefined. */
function referenceNext(expr: string, after: number, until: number): number | undefined {
  const fields = expr.trim().split(/[ \t\n\v\f\r]+/);
  const [minute = '', hour = '', dom = '', month = '', dow = ''] = fields;
  const minuteOk = refField(minute, MINUTE);
  const hourOk = refField(hour, HOUR);
  const domOk = refField(dom, DOM);
  const monthOk = refField(month, MONTH);
  const dowOk = refField(dow, DOW);
  const either = !dom.startsWith('*') && !dow.startsWith('*');
  let t = (Math.floor(after / MINUTE_MS) + 1) * MINUTE_MS;
  while (t <= until) {
    const at = new Date(t);
    const d = domOk(at.getUTCDate());
    const w = dowOk(at.getUTCDay());
    if (!monthOk(at.getUTCMonth() + 1) || !(either ? d || w : d && w)) {
      t = (Math.floor(t / DAY_MS) + 1) * DAY_MS;
    } else if (!hourOk(at.getUTCHours())) {
      t = (Math.floor(t / HOUR_MS) + 1) * HOUR_MS;
    } else if (!minuteOk(at.getUTCMinutes())) {
      t += MINUTE_MS;
    } else {
      return t;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------- arbitraries

const randomCase = (name: string) =>
  fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }).map((upper) =>
    [...name].map((c, i) => (upper[i] ? c : c.toLowerCase())).join(''),
  );

/** v as digits, or (when the field has a name for it) as its name in random case; sometimes zero-padded. */
function render(v: number, r: Range): fc.Arbitrary<string> {
  const name = r.names?.[v - (r.first ?? 0)];
  const digits = fc.constantFrom(String(v), String(v).padStart(2, '0'));
  return name === undefined ? digits : fc.oneof(digits, randomCase(name));
}

/** One list item; `star` weighs the items that begin with `*` (`*`, `*\/n`) against the others (out of 10). */
function item(r: Range, values: fc.Arbitrary<number>, star: number): fc.Arbitrary<string> {
  const step = fc.integer({ min: 1, max: r.max + 2 });
  const range: fc.Arbitrary<[number, number]> = fc.tuple(values, values).map(([a, b]) => (a <= b ? [a, b] : [b, a]));
  const rendered = values.chain((v) => render(v, r));
  const renderedRange = range.chain(([a, b]) => fc.tuple(render(a, r), render(b, r)).map(([x, y]) => `${x}-${y}`));
  const starred = fc.oneof(fc.constant('*'), step.map((n) => `*/${n}`));
  const plain = fc.oneof(
    { weight: 4, arbitrary: rendered },
    { weight: 3, arbitrary: renderedRange },
    { weight: 1, arbitrary: fc.tuple(rendered, step).map(([x, n]) => `${x}/${n}`) },
    { weight: 1, arbitrary: fc.tuple(renderedRange, step).map(([x, n]) => `${x}/${n}`) },
  );
  return star <= 0 ? plain : star >= 10 ? starred : fc.oneof({ weight: star, arbitrary: starred }, { weight: 10 - star, arbitrary: plain });
}

/** One to three items; the first begins with `*` with weight `star` out of 10, the others seldom do. */
function field(r: Range, star: number, values: fc.Arbitrary<number> = fc.integer({ min: r.min, max: r.max })): fc.Arbitrary<string> {
  return fc
    .tuple(item(r, values, star), fc.array(item(r, values, 1), { maxLength: 2 }))
    .map(([first, rest]) => [first, ...rest].join(','));
}

const blank = (minLength: number) =>
  fc
    .array(fc.oneof({ weight: 6, arbitrary: fc.constantFrom(' ', '\t') }, { weight: 1, arbitrary: fc.constantFrom('\n', '\r', '\v', '\f') }), {
      minLength,
      maxLength: 3,
    })
    .map((cs) => cs.join(''));

function expression(fields: readonly [fc.Arbitrary<string>, fc.Arbitrary<string>, fc.Arbitrary<string>, fc.Arbitrary<string>, fc.Arbitrary<string>]): fc.Arbitrary<string> {
  return fc
    .tuple(blank(0), fc.tuple(...fields), fc.tuple(blank(1), blank(1), blank(1), blank(1)), blank(0))
    .map(([lead, texts, seps, trail]) => lead + texts.map((text, i) => text + (seps[i] ?? '')).join('') + trail);
}

/** Any schedule of the dialect. */
const anySchedule = expression([field(MINUTE, 4), field(HOUR, 4), field(DOM, 5), field(MONTH, 5), field(DOW, 5)]);

/** A short list of plain values: what makes a day field narrow enough to miss every listed month. */
function plainList(r: Range, of: fc.Arbitrary<number>): fc.Arbitrary<string> {
  return fc.array(of.chain((v) => render(v, r)), { minLength: 1, maxLength: 2 }).map((vs) => vs.join(','));
}

/** Schedules near the edge of never firing: late days of month in short months (February 29 among them), day of week mostly unrestricted. */
const lateDays = fc.integer({ min: 28, max: 31 });
const shortMonths = fc.constantFrom(2, 2, 4, 6, 9, 11);
const rareSchedule = expression([
  field(MINUTE, 4),
  field(HOUR, 4),
  fc.oneof({ weight: 2, arbitrary: plainList(DOM, fc.constantFrom(29, 30, 31, 31, 31)) }, { weight: 1, arbitrary: field(DOM, 1, lateDays) }),
  fc.oneof({ weight: 2, arbitrary: plainList(MONTH, shortMonths) }, { weight: 1, arbitrary: field(MONTH, 1, shortMonths) }),
  fc.oneof({ weight: 4, arbitrary: field(DOW, 10) }, { weight: 1, arbitrary: field(DOW, 0) }),
]);

const instant: fc.Arbitrary<Date> = fc.oneof(
  { weight: 2, arbitrary: fc.date({ min: new Date('1999-01-01T00:00:00.000Z'), max: new Date('2101-12-31T23:59:59.999Z'), noInvalidDate: true }) },
  {
    weight: 3,
    arbitrary: fc
      .record({
        year: fc.constantFrom(1999, 2000, 2023, 2024, 2026, 2027, 2028, 2096, 2099, 2100, 2101),
        monthDay: fc.constantFrom([1, 1], [1, 31], [2, 28], [2, 29], [3, 1], [4, 30], [6, 30], [9, 30], [11, 30], [12, 31]),
        time: fc.oneof(
          fc.constant([0, 0, 0, 0]),
          fc.constant([23, 59, 0, 0]),
          fc.tuple(fc.constantFrom(0, 23), fc.constantFrom(0, 59), fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 999 })),
          fc.tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }), fc.constant(0), fc.constant(0)),
        ),
      })
      .map(({ year, monthDay: [m, d], time: [h, mi, s, ms] }) => new Date(Date.UTC(year, (m ?? 1) - 1, d, h, mi, s, ms))),
  },
);

// ---------------------------------------------------------------- properties

/** How far the reference looks: every schedule the generators build either fires within it or is rare enough to be compared as "not within". */
const WINDOW_MS = 4 * 366 * DAY_MS;

describe('Property: nextFireAfter agrees with the brute-force reference', () => {
  it('on random schedules and instants', () => {
    fc.assert(
      fc.property(fc.oneof({ weight: 4, arbitrary: anySchedule }, { weight: 1, arbitrary: rareSchedule }), instant, (expr, after) => {
        const until = after.getTime() + WINDOW_MS;
        const want = referenceNext(expr, after.getTime(), until);
        if (cronProblem(expr) !== undefined) {
          // The generators only build grammatical schedules: the only problem left is never firing.
          expect(cronProblem(expr)).toMatch(/^never fires/);
          expect(() => nextFireAfter(expr, after)).toThrow(/never fires/);
          expect(want).toBeUndefined();
          return;
        }
        const got = nextFireAfter(expr, after).getTime();
        if (want === undefined) expect(got).toBeGreaterThan(until);
        else expect(new Date(got).toISOString()).toBe(new Date(want).toISOString());
      }),
      { numRuns: 1000, ...replay },
    );
  });
});

describe('Property: validation accepts a schedule iff it fires within one 28-year leap cycle', () => {
  const cycleStart = Date.UTC(2000, 0, 1) - MINUTE_MS;
  const cycleEnd = Date.UTC(2028, 0, 1) - MINUTE_MS;

  it('on schedules near the edge of never firing', () => {
    fc.assert(
      fc.property(fc.oneof({ weight: 4, arbitrary: rareSchedule }, { weight: 1, arbitrary: anySchedule }), (expr) => {
        const fires = referenceNext(expr, cycleStart, cycleEnd) !== undefined;
        expect(cronProblem(expr) === undefined).toBe(fires);
      }),
      { numRuns: 300, ...replay },
    );
  });
});
