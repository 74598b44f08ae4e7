/**
 * Turn schedules: five-field cron expressions in the spec's dialect,
 * evaluated in UTC.
 *
 * Each field is checked against the grammar below and expanded to its set
 * of values (weekday 7 folded onto 0); the next fire is then computed from
 * those sets directly: the first day on or after the start whose month and
 * day match, then the first hour and minute on that day. No cron library is
 * involved (cron-parser 5 accepts more than the dialect, refuses overlapping
 * list items such as `0,7`, and decides the day rule on "field is exactly
 * `*`" rather than "field begins with `*`").
 *
 * Day of month and day of week combine as in Vixie cron: a day field whose
 * text begins with `*` (`*`, `*\/2`, `*\/1,5`) is unrestricted; when neither
 * day field is unrestricted a day matches if either field matches, otherwise
 * both must match (the unrestricted one still through its own values, so
 * `*\/2` in day of week means Sun, Tue, Thu, Sat). A schedule that never
 * fires under this rule is invalid; whether it fires is decided by the same
 * day search over one 28-year cycle of the calendar (2000-2027, in which
 * every date of the year, Feb 29 included, falls on every weekday).
 *
 * Grammar, per field:
 *   field := item ("," item)*
 *   item  := base ("/" step)?
 *   base  := "*" | value | value "-" value
 *   value := digits | month name JAN-DEC (month) | weekday name SUN-SAT (day of week)
 *   step  := digits, at least 1
 * `a/n` means a, a+n, ... up to the field's maximum; names are
 * case-insensitive; weekday 7 is Sunday; a range must not run backwards.
 * Fields are separated by runs of ASCII whitespace; leading and trailing
 * ASCII whitespace is ignored.
 */
interface FieldSpec {
  readonly label: string;
  readonly min: number;
  readonly max: number;
  readonly names?: Readonly<Record<string, number>>;
}

const MONTH_NAMES: Readonly<Record<string, number>> = {
  JAN: 1, FEB: 2, MAR: 3, APR: 4, MAY: 5, JUN: 6, JUL: 7, AUG: 8, SEP: 9, OCT: 10, NOV: 11, DEC: 12,
};
const WEEKDAY_NAMES: Readonly<Record<string, number>> = { SUN: 0, MON: 1, TUE: 2, WED: 3, THU: 4, FRI: 5, SAT: 6 };

const FIELDS: readonly FieldSpec[] = [
  { label: 'minute', min: 0, max: 59 },
  { label: 'hour', min: 0, max: 23 },
  { label: 'day-of-month', min: 1, max: 31 },
  { label: 'month', min: 1, max: 12, names: MONTH_NAMES },
  { label: 'day-of-week', min: 0, max: 7, names: WEEKDAY_NAMES },
];

const MONTH_LABELS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] as const;

const ASCII_WHITESPACE = /[ \t\n\v\f\r]+/;

/**
 * A schedule checked against the grammar, as one membership table per field
 * (indexed by value; weekday 7 is folded onto 0), and how the day fields combine.
 */
interface ParsedSchedule {
  readonly minutes: readonly boolean[];
  readonly hours: readonly boolean[];
  readonly days: readonly boolean[];
  readonly months: readonly boolean[];
  readonly weekdays: readonly boolean[];
  /** Neither day field begins with `*`: a day matches when either matches (else both must). */
  readonly dayOr: boolean;
}

type ParseResult = { ok: true; schedule: ParsedSchedule } | { ok: false; problem: string };

class FieldError extends Error {}

function quote(text: string): string {
  return JSON.stringify(text);
}

function parseValue(token: string, spec: FieldSpec): number {
  if (/^\d+$/.test(token)) {
    const n = Number(token);
    if (n < spec.min || n > spec.max) throw new FieldError(`${token} is out of range ${spec.min}-${spec.max}`);
    return n;
  }
  const upper = token.toUpperCase();
  if (spec.names !== undefined && Object.hasOwn(spec.names, upper)) return spec.names[upper] ?? Number.NaN;
  if (spec.names !== undefined) {
    const kind = spec.label === 'month' ? 'month name (JAN-DEC)' : 'weekday name (SUN-SAT)';
    throw new FieldError(`${quote(token)} is neither a number nor a ${kind}`);
  }
  throw new FieldError(`${quote(token)} is not a number`);
}

function parseItem(item: string, spec: FieldSpec, into: Set<number>): void {
  if (item === '') throw new FieldError('empty list item');
  const slash = item.split('/');
  if (slash.length > 2) throw new FieldError(`${quote(item)} has more than one step`);
  const [base = '', stepText] = slash;
  let step = 1;
  if (stepText !== undefined) {
    if (!/^\d+$/.test(stepText)) throw new FieldError(`step ${quote(stepText)} is not a number`);
    step = Number(stepText);
    if (step < 1) throw new FieldError('step must be at least 1');
  }
  let lo: number;
  let hi: number;
  if (base === '*') {
    lo = spec.min;
    hi = spec.max;
  } else {
    const dash = base.split('-');
    if (dash.length > 2 || dash.some((part) => part === '')) throw new FieldError(`${quote(base)} is not a value or a range`);
    const [first = '', second] = dash;
    lo = parseValue(first, spec);
    if (second !== undefined) {
      hi = parseValue(second, spec);
      if (lo > hi) throw new FieldError(`range ${base} runs backwards`);
    } else {
      hi = stepText !== undefined ? spec.max : lo;
    }
  }
  for (let v = lo; v <= hi; v += step) into.add(v);
}

function parseField(text: string, spec: FieldSpec): number[] {
  const special = /[#?]/.exec(text);
  if (special !== null) throw new FieldError(`${quote(special[0])} is not supported`);
  for (const run of text.match(/[A-Za-z]+/g) ?? []) {
    if (['H', 'L', 'W', 'LW'].includes(run.toUpperCase())) throw new FieldError(`${quote(run)} is not supported`);
  }
  if (!/^[A-Za-z0-9*,/-]+$/.test(text)) throw new FieldError('only digits, names, "*", ",", "-" and "/" are allowed');
  const values = new Set<number>();
  for (const item of text.split(',')) parseItem(item, spec, values);
  if (spec.label === 'day-of-week' && values.delete(7)) values.add(0);
  return [...values].sort((a, b) => a - b);
}

function table(values: readonly number[], size: number): boolean[] {
  const out = new Array<boolean>(size).fill(false);
  for (const v of values) out[v] = true;
  return out;
}

// ------------------------------------------------------------ calendar (UTC, proleptic Gregorian)

function isLeapYear(y: number): boolean {
  return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
}

const MONTH_LENGTHS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

function daysInMonth(y: number, m: number): number {
  return m === 2 && isLeapYear(y) ? 29 : (MONTH_LENGTHS[m - 1] ?? 0);
}

/** Days from 1970-01-01 to y-m-d (H. Hinnant's days_from_civil); avoids Date.UTC, which maps years 0-99 onto 1900-1999. */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * ((m + 9) % 12) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** 0 = Sunday; 1970-01-01 was a Thursday. */
function weekdayOf(dayNumber: number): number {
  return (((dayNumber + 4) % 7) + 7) % 7;
}

interface Day {
  readonly y: number;
  readonly m: number;
  readonly d: number;
  /** daysFromCivil(y, m, d) */
  readonly n: number;
}

function dayMatches(s: ParsedSchedule, d: number, weekday: number): boolean {
  const dom = s.days[d] === true;
  const dow = s.weekdays[weekday] === true;
  return s.dayOr ? dom || dow : dom && dow;
}

/** The first day on or after `from`, before January 1 of `endYear`, on which the schedule fires; undefined when there is none. */
function firstFireDay(s: ParsedSchedule, from: Day, endYear: number): Day | undefined {
  let { y, m, d, n } = from;
  while (y < endYear) {
    const length = daysInMonth(y, m);
    if (s.months[m] === true) {
      for (; d <= length; d++, n++) {
        if (dayMatches(s, d, weekdayOf(n))) return { y, m, d, n };
      }
    } else {
      n += length - d + 1;
    }
    d = 1;
    m++;
    if (m > 12) {
      m = 1;
      y++;
    }
  }
  return undefined;
}

function nextDay(day: Day): Day {
  if (day.d < daysInMonth(day.y, day.m)) return { ...day, d: day.d + 1, n: day.n + 1 };
  if (day.m < 12) return { y: day.y, m: day.m + 1, d: 1, n: day.n + 1 };
  return { y: day.y + 1, m: 1, d: 1, n: day.n + 1 };
}

/** Minutes into the day of the first hour:minute at or after `fromMinute` that the schedule fires at; undefined when none is left. */
function firstFireMinute(s: ParsedSchedule, fromMinute: number): number | undefined {
  for (let h = Math.floor(fromMinute / 60); h < 24; h++) {
    if (s.hours[h] !== true) continue;
    for (let mi = h === Math.floor(fromMinute / 60) ? fromMinute % 60 : 0; mi < 60; mi++) {
      if (s.minutes[mi] === true) return h * 60 + mi;
    }
  }
  return undefined;
}

/** One full 28-year cycle in which every year divisible by 4 is a leap year: every date, Feb 29 included, falls on every weekday. */
const CYCLE_START: Day = { y: 2000, m: 1, d: 1, n: daysFromCivil(2000, 1, 1) };
const CYCLE_END_YEAR = 2028;
/** A full Gregorian cycle: any schedule that fires at all fires within it of any start. */
const SEARCH_YEARS = 401;
const MS_PER_MINUTE = 60_000;

function parseSchedule(expr: string): ParseResult {
  if (typeof expr !== 'string') return { ok: false, problem: 'must be a string' };
  const trimmed = expr.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, '');
  if (trimmed.startsWith('@')) return { ok: false, problem: `macros such as ${quote(trimmed.split(ASCII_WHITESPACE)[0] ?? trimmed)} are not supported` };
  const parts = trimmed === '' ? [] : trimmed.split(ASCII_WHITESPACE);
  if (parts.length !== FIELDS.length) {
    return {
      ok: false,
      problem: `must have exactly five fields (minute hour day-of-month month day-of-week), got ${parts.length}`,
    };
  }
  const values: number[][] = [];
  for (const [i, spec] of FIELDS.entries()) {
    const text = parts[i] ?? '';
    try {
      values.push(parseField(text, spec));
    } catch (err) {
      if (err instanceof FieldError) return { ok: false, problem: `${spec.label} field ${quote(text)}: ${err.message}` };
      throw err;
    }
  }
  const [minutes = [], hours = [], days = [], months = [], weekdays = []] = values;
  const schedule: ParsedSchedule = {
    minutes: table(minutes, 60),
    hours: table(hours, 24),
    days: table(days, 32),
    months: table(months, 13),
    weekdays: table(weekdays, 7),
    dayOr: !(parts[2] ?? '').startsWith('*') && !(parts[4] ?? '').startsWith('*'),
  };
  // Every field has at least one value, so the schedule fires iff some day of the cycle matches.
  if (firstFireDay(schedule, CYCLE_START, CYCLE_END_YEAR) === undefined) {
    // Only possible when both day fields must match: then no listed day of month occurs in a listed month.
    return {
      ok: false,
      problem: `never fires: day of month ${days.join(',')} does not occur in ${months.map((m) => MONTH_LABELS[m - 1]).join(',')}`,
    };
  }
  return { ok: true, schedule };
}

/** undefined when expr is a valid five-field cron in the spec's dialect that fires at least once; else a message. */
export function cronProblem(expr: string): string | undefined {
  const parsed = parseSchedule(expr);
  return parsed.ok ? undefined : parsed.problem;
}

/** First fire strictly after `after`, evaluated in UTC. Throws on an invalid expression or date. */
export function nextFireAfter(expr: string, after: Date): Date {
  if (!(after instanceof Date) || Number.isNaN(after.getTime())) throw new RangeError('nextFireAfter: invalid date');
  const parsed = parseSchedule(expr);
  if (!parsed.ok) throw new Error(`invalid turn schedule ${quote(String(expr))}: ${parsed.problem}`);
  const s = parsed.schedule;
  // The first whole minute strictly after `after`.
  const startMinute = Math.floor(after.getTime() / MS_PER_MINUTE) + 1;
  const startDayNumber = Math.floor(startMinute / 1440);
  const start = new Date(startDayNumber * 86_400_000);
  let day: Day = {
    y: start.getUTCFullYear(),
    m: start.getUTCMonth() + 1,
    d: start.getUTCDate(),
    n: startDayNumber,
  };
  let fromMinute = startMinute - startDayNumber * 1440;
  const endYear = day.y + SEARCH_YEARS;
  // A start past the end of the Date range has no calendar day: there is then nothing to search.
  while (!Number.isNaN(day.y)) {
    const found = firstFireDay(s, day, endYear);
    if (found === undefined) break;
    if (found.n !== day.n) fromMinute = 0;
    const minute = firstFireMinute(s, fromMinute);
    if (minute !== undefined) {
      const next = new Date((found.n * 1440 + minute) * MS_PER_MINUTE);
      if (Number.isNaN(next.getTime())) break;
      return next;
    }
    day = nextDay(found);
    fromMinute = 0;
  }
  throw new Error(`turn schedule ${quote(expr)} has no fire after ${after.toISOString()}`);
}
