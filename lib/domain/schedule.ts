/**
 * Turn schedules: five-field cron expressions in the spec's dialect,
 * evaluated in UTC.
 *
 * The grammar is checked here first, because cron-parser 5 accepts more
 * than the dialect (`H`, `L`, `W`, `#`, `?`, macros, six or seven fields).
 * Each field is then expanded to its set of values and cron-parser is handed
 * a canonical expression (a field that was exactly `*` stays `*`, any other
 * field becomes the sorted list of its values, with weekday 7 folded onto 0):
 * cron-parser refuses lists whose items overlap (`0,7`, `1-5,3`), which
 * standard cron allows, and it decides the day-of-month / day-of-week OR
 * rule on whether the raw field is exactly `*`, which the canonical form
 * preserves.
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
import { CronExpressionParser } from 'cron-parser';

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

/** Longest length of each month (February in a leap year). */
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;
const MONTH_LABELS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] as const;

const ASCII_WHITESPACE = /[ \t\n\v\f\r]+/;

/** A schedule checked against the grammar: its canonical text for cron-parser, and which fields were exactly `*`. */
interface ParsedSchedule {
  readonly canonical: string;
  readonly wildcard: readonly boolean[];
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
  const wildcard: boolean[] = [];
  const canonical: string[] = [];
  for (const [i, spec] of FIELDS.entries()) {
    const text = parts[i] ?? '';
    try {
      const set = parseField(text, spec);
      values.push(set);
      wildcard.push(text === '*');
      canonical.push(text === '*' ? '*' : set.join(','));
    } catch (err) {
      if (err instanceof FieldError) return { ok: false, problem: `${spec.label} field ${quote(text)}: ${err.message}` };
      throw err;
    }
  }
  const [, , days = [], months = []] = values;
  // Day of month and day of week combine with OR when both are restricted;
  // only a restricted day of month with a wildcard day of week can never fire.
  if (!wildcard[2] && wildcard[4]) {
    const fires = months.some((m) => days.some((d) => d <= (DAYS_IN_MONTH[m - 1] ?? 0)));
    if (!fires) {
      return {
        ok: false,
        problem: `never fires: day of month ${days.join(',')} does not occur in ${months.map((m) => MONTH_LABELS[m - 1]).join(',')}`,
      };
    }
  }
  return { ok: true, schedule: { canonical: canonical.join(' '), wildcard } };
}

/** Where cronProblem looks for a first fire, and how far ahead (every schedule that fires at all fires within 8 years). */
const PROBE_START = new Date('2000-01-01T00:00:00.000Z');
const PROBE_HORIZON_MS = 9 * 366 * 24 * 3600 * 1000;

function evaluator(canonical: string, currentDate: Date) {
  return CronExpressionParser.parse(canonical, { tz: 'UTC', currentDate });
}

/** undefined when expr is a valid five-field cron in the spec's dialect that fires at least once; else a message. */
export function cronProblem(expr: string): string | undefined {
  const parsed = parseSchedule(expr);
  if (!parsed.ok) return parsed.problem;
  let first: Date;
  try {
    first = evaluator(parsed.schedule.canonical, PROBE_START).next().toDate();
  } catch (err) {
    // Not expected after the checks above; cron-parser throws on never-firing day/month pairs and on loop limits.
    return `cannot be evaluated (${err instanceof Error ? err.message : String(err)})`;
  }
  if (!(first.getTime() > PROBE_START.getTime()) || first.getTime() - PROBE_START.getTime() > PROBE_HORIZON_MS) {
    return 'never fires';
  }
  return undefined;
}

/** First fire strictly after `after`, evaluated in UTC. Throws on an invalid expression or date. */
export function nextFireAfter(expr: string, after: Date): Date {
  if (!(after instanceof Date) || Number.isNaN(after.getTime())) throw new RangeError('nextFireAfter: invalid date');
  const parsed = parseSchedule(expr);
  if (!parsed.ok) throw new Error(`invalid turn schedule ${quote(String(expr))}: ${parsed.problem}`);
  const it = evaluator(parsed.schedule.canonical, after);
  // cron-parser already answers strictly after currentDate; the loop keeps that true whatever it does.
  for (let i = 0; i < 4; i++) {
    const next = it.next().toDate();
    if (next.getTime() > after.getTime()) return next;
  }
  throw new Error(`turn schedule ${quote(expr)} has no fire after ${after.toISOString()}`);
}
