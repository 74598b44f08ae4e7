/** The `limit` query parameter of the listing routes. */
export interface LimitRange {
  min: number;
  max: number;
  default: number;
}

/**
 * Absent -> the default; else a plain decimal integer in range (no sign,
 * no leading zero, no spaces, no exponent); anything else -> undefined.
 */
export function parseLimit(raw: string | undefined, range: LimitRange): number | undefined {
  if (raw === undefined) return range.default;
  if (typeof raw !== 'string' || !/^[1-9][0-9]{0,5}$/.test(raw)) return undefined;
  const n = Number(raw);
  return n >= range.min && n <= range.max ? n : undefined;
}

export function limitProblem(range: LimitRange): string {
  return `limit must be an integer from ${range.min} to ${range.max}`;
}
