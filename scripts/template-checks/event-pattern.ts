/**
 * A small matcher of EventBridge's event pattern language, as Lambda event
 * filtering (`FilterCriteria`) applies it to a stream record: enough to tell
 * whether a pattern is valid and which records it lets through.
 *
 * Supported: exact values (a non-empty array of strings, numbers, booleans or
 * null), `prefix`, `suffix`, `equals-ignore-case`, `anything-but` (a value,
 * a list, or `{prefix}`/`{suffix}`), `exists`, `numeric` (one or two
 * comparisons), `wildcard` and `$or`. Anything else is reported as invalid
 * rather than guessed (no maintained matcher is on npm; STACK.md).
 */

type Json = unknown;

export class InvalidPatternError extends Error {}

const isObject = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalar = (v: Json) => v === null || ['string', 'number', 'boolean'].includes(typeof v);

/** Parses a `FilterCriteria.Filters[].Pattern` string; throws InvalidPatternError when it is not a pattern. */
export function parsePattern(text: string): Record<string, Json> {
  let pattern: Json;
  try {
    pattern = JSON.parse(text);
  } catch (error) {
    throw new InvalidPatternError(`not JSON: ${(error as Error).message}`);
  }
  if (!isObject(pattern) || Object.keys(pattern).length === 0) throw new InvalidPatternError('a pattern is a non-empty JSON object');
  validateObject(pattern, '');
  return pattern;
}

function validateObject(pattern: Record<string, Json>, path: string): void {
  for (const [key, value] of Object.entries(pattern)) {
    const where = path ? `${path}.${key}` : key;
    if (key === '$or') {
      if (!Array.isArray(value) || value.length < 2) throw new InvalidPatternError(`${where}: $or takes at least two patterns`);
      for (const alternative of value) {
        if (!isObject(alternative)) throw new InvalidPatternError(`${where}: every $or alternative is an object`);
        validateObject(alternative, where);
      }
    } else if (isObject(value)) {
      validateObject(value, where);
    } else if (Array.isArray(value)) {
      if (value.length === 0) throw new InvalidPatternError(`${where}: an empty list matches nothing`);
      for (const item of value) validateMatcher(item, where);
    } else {
      throw new InvalidPatternError(`${where}: a leaf must be a list of values or matchers, got ${JSON.stringify(value)}`);
    }
  }
}

const COMPARATORS = new Set(['<', '<=', '=', '>', '>=']);

function validateMatcher(item: Json, where: string): void {
  if (isScalar(item)) return;
  if (!isObject(item) || Object.keys(item).length !== 1) throw new InvalidPatternError(`${where}: ${JSON.stringify(item)} is not a value or a matcher`);
  const [[operator, operand]] = Object.entries(item) as [[string, Json]];
  switch (operator) {
    case 'prefix':
    case 'suffix':
    case 'equals-ignore-case':
    case 'wildcard':
      if (typeof operand !== 'string') throw new InvalidPatternError(`${where}: ${operator} takes a string`);
      return;
    case 'exists':
      if (typeof operand !== 'boolean') throw new InvalidPatternError(`${where}: exists takes true or false`);
      return;
    case 'anything-but':
      if (isScalar(operand)) return;
      if (Array.isArray(operand) && operand.length > 0 && operand.every(isScalar)) return;
      if (isObject(operand) && Object.keys(operand).length === 1 && ['prefix', 'suffix'].includes(Object.keys(operand)[0] as string)) return;
      throw new InvalidPatternError(`${where}: anything-but takes a value, a list of values, or {prefix}/{suffix}`);
    case 'numeric': {
      if (!Array.isArray(operand) || (operand.length !== 2 && operand.length !== 4)) throw new InvalidPatternError(`${where}: numeric takes one or two comparisons`);
      for (let i = 0; i < operand.length; i += 2) {
        if (!COMPARATORS.has(operand[i] as string) || typeof operand[i + 1] !== 'number') throw new InvalidPatternError(`${where}: bad numeric comparison`);
      }
      return;
    }
    default:
      throw new InvalidPatternError(`${where}: unknown operator ${operator}`);
  }
}

/** Whether `event` matches `pattern` (an already validated pattern). */
export function matches(pattern: Record<string, Json>, event: Json): boolean {
  return Object.entries(pattern).every(([key, value]) => {
    if (key === '$or') return (value as Record<string, Json>[]).some((alternative) => matches(alternative, event));
    const field = isObject(event) ? event[key] : undefined;
    if (isObject(value)) return isObject(field) && matches(value, field);
    const matchers = value as Json[];
    // A list field matches when any of its values does.
    const candidates = Array.isArray(field) ? field : [field];
    return matchers.some((matcher) => {
      if (isObject(matcher) && 'exists' in matcher) return (field !== undefined) === matcher.exists;
      return field !== undefined && candidates.some((candidate) => matchOne(matcher, candidate));
    });
  });
}

function matchOne(matcher: Json, value: Json): boolean {
  if (isScalar(matcher)) return matcher === value;
  const [[operator, operand]] = Object.entries(matcher as Record<string, Json>) as [[string, Json]];
  switch (operator) {
    case 'prefix':
      return typeof value === 'string' && value.startsWith(operand as string);
    case 'suffix':
      return typeof value === 'string' && value.endsWith(operand as string);
    case 'equals-ignore-case':
      return typeof value === 'string' && value.toLowerCase() === (operand as string).toLowerCase();
    case 'wildcard': {
      const regex = new RegExp(`^${(operand as string).split('*').map(escapeRegExp).join('.*')}$`, 's');
      return typeof value === 'string' && regex.test(value);
    }
    case 'anything-but': {
      if (isObject(operand)) {
        const [[kind, text]] = Object.entries(operand) as [[string, string]];
        if (typeof value !== 'string') return true;
        return kind === 'prefix' ? !value.startsWith(text) : !value.endsWith(text);
      }
      const excluded = Array.isArray(operand) ? operand : [operand];
      return !excluded.includes(value);
    }
    case 'numeric': {
      if (typeof value !== 'number') return false;
      const comparisons = operand as (string | number)[];
      for (let i = 0; i < comparisons.length; i += 2) {
        const bound = comparisons[i + 1] as number;
        const ok = { '<': value < bound, '<=': value <= bound, '=': value === bound, '>': value > bound, '>=': value >= bound }[comparisons[i] as string];
        if (!ok) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
