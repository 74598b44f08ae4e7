import { describe, expect, it } from 'vitest';
import { cronProblem, nextFireAfter } from '../../lib/domain/schedule.ts';

describe('Function: cronProblem', () => {
  describe('Rule: the spec dialect is accepted', () => {
    it.each([
      '0 */6 * * *',
      '* * * * *',
      '0 0 * * *',
      '59 23 31 12 *',
      '0 0 1 1 0',
      '0-59/15 0-23 1-31 1-12 0-7',
      '5,10,15 1-3 */2 * *',
      '30 5/4 * * *',
      '0 9 * * MON-FRI',
      '0 9 * * mon-fri',
      '0 9 * * Sun',
      '0 9 * JAN,Mar,dec *',
      '0 9 * JAN-DEC/3 *',
      '0 9 * * SUN-SAT',
      '0 0 * * 7',
      '0 0 * * 5-7',
      '0 0 * * 0,7',
      '0 0 1-3,2 * *',
      '0 0 29 2 *',
      '0 0 30 2 MON',
      '0 0 13 * 5',
      '0 0 13 * */1',
      '0 0 * * */2',
      '0 0 29 2 1',
      '0 0 29 2 */2',
      '0 0 29 2 */1,5',
      '0 0 31 4,6 MON',
      '0 0 */1,30 2 *',
      '0 0 31 */2 *',
      '*/100 * * * *',
      '00 09 01 01 *',
      '  0 */6 * * *  ',
      '0\t*/6 * * *',
    ])('accepts %j', (expr) => {
      // Act
      const problem = cronProblem(expr);
      // Assess
      expect(problem).toBeUndefined();
    });
  });

  describe('Rule: everything outside the dialect is rejected', () => {
    it.each([
      ['@daily', 'macros'],
      ['@every 5m', 'macros'],
      ['0 0 * * * *', 'exactly five fields'],
      ['0 0 1 1 * 2026', 'exactly five fields'],
      ['0 * * *', 'exactly five fields'],
      ['', 'exactly five fields'],
      ['   ', 'exactly five fields'],
      ['0 0 L * *', '"L" is not supported'],
      ['0 0 * * 5L', '"L" is not supported'],
      ['0 0 LW * *', '"LW" is not supported'],
      ['0 0 15W * *', '"W" is not supported'],
      ['H * * * *', '"H" is not supported'],
      ['0 0 ? * *', '"?" is not supported'],
      ['0 0 * * ?', '"?" is not supported'],
      ['0 0 * * 1#2', '"#" is not supported'],
      ['60 * * * *', '60 is out of range 0-59'],
      ['0 24 * * *', '24 is out of range 0-23'],
      ['0 0 0 * *', '0 is out of range 1-31'],
      ['0 0 32 * *', '32 is out of range 1-31'],
      ['0 0 * 0 *', '0 is out of range 1-12'],
      ['0 0 * 13 *', '13 is out of range 1-12'],
      ['0 0 * * 8', '8 is out of range 0-7'],
      ['5-3 * * * *', 'runs backwards'],
      ['0 0 * * FRI-SUN', 'runs backwards'],
      ['*/0 * * * *', 'step must be at least 1'],
      ['1-5/0 * * * *', 'step must be at least 1'],
      ['*/ * * * *', 'step "" is not a number'],
      ['1/2/3 * * * *', 'more than one step'],
      ['0,,1 * * * *', 'empty list item'],
      ['0- * * * *', 'not a value or a range'],
      ['-1 * * * *', 'not a value or a range'],
      ['*-5 * * * *', 'not a number'],
      ['JAN * * * *', 'not a number'],
      ['0 0 * * MONDAY', 'neither a number nor a weekday name'],
      ['0 0 * JANUARY *', 'neither a number nor a month name'],
      ['0 0 * * SUN%', 'only digits, names'],
      ['0 0 30 2 *', 'never fires'],
      ['0 0 31 4,6,9,11 *', 'never fires'],
      ['0 0 30,31 2 *', 'never fires'],
      ['0 0 31 FEB-APR/2 *', 'never fires'],
      ['0 0 30 2 */2', 'never fires'],
      ['0 0 30 2 */1,5', 'never fires'],
      ['0 0 31 4,6 *', 'never fires'],
      ['0 0 31 apr,Jun */7', 'never fires'],
      ['0\t0\t30\tfeb\t*', 'never fires'],
    ])('rejects %j (%s)', (expr, fragment) => {
      // Act
      const problem = cronProblem(expr);
      // Assess
      expect(problem).toContain(fragment);
    });

    it('names the field that is wrong', () => {
      // Act
      const problem = cronProblem('0 0 * 13 *');
      // Assess
      expect(problem).toBe('month field "13": 13 is out of range 1-12');
    });

    it('names the day and months of a schedule that never fires', () => {
      // Act
      const problem = cronProblem('0 0 30 2 */2');
      // Assess
      expect(problem).toBe('never fires: day of month 30 does not occur in FEB');
    });
  });
});

describe('Function: nextFireAfter', () => {
  it('evaluates in UTC', () => {
    // Prepare
    const after = new Date('2026-11-24T10:17:00.000Z');
    // Act
    const next = nextFireAfter('0 */6 * * *', after);
    // Assess
    expect(next.toISOString()).toBe('2026-11-24T12:00:00.000Z');
  });

  it('is strictly after a time that is itself a fire time', () => {
    // Prepare
    const after = new Date('2026-11-24T12:00:00.000Z');
    // Act
    const next = nextFireAfter('0 */6 * * *', after);
    // Assess
    expect(next.toISOString()).toBe('2026-11-24T18:00:00.000Z');
  });

  it('is strictly after when only milliseconds separate it from a fire time', () => {
    // Prepare
    const justAfter = new Date('2026-11-24T12:00:00.001Z');
    const justBefore = new Date('2026-11-24T11:59:59.999Z');
    // Act
    const fromAfter = nextFireAfter('0 */6 * * *', justAfter);
    const fromBefore = nextFireAfter('0 */6 * * *', justBefore);
    // Assess
    expect(fromAfter.toISOString()).toBe('2026-11-24T18:00:00.000Z');
    expect(fromBefore.toISOString()).toBe('2026-11-24T12:00:00.000Z');
  });

  it('moves to the next minute for every-minute schedules', () => {
    // Prepare
    const onTheMinute = new Date('2026-01-01T06:00:00.000Z');
    const withinTheMinute = new Date('2026-01-01T06:00:59.999Z');
    // Act
    const a = nextFireAfter('* * * * *', onTheMinute);
    const b = nextFireAfter('* * * * *', withinTheMinute);
    // Assess
    expect(a.toISOString()).toBe('2026-01-01T06:01:00.000Z');
    expect(b.toISOString()).toBe('2026-01-01T06:01:00.000Z');
  });

  it('treats 7 and SUN as Sunday', () => {
    // Prepare: 2026-01-01 is a Thursday.
    const after = new Date('2026-01-01T00:00:00.000Z');
    // Act
    const seven = nextFireAfter('0 0 * * 7', after);
    const sun = nextFireAfter('0 0 * * sun', after);
    // Assess
    expect(seven.toISOString()).toBe('2026-01-04T00:00:00.000Z');
    expect(sun.toISOString()).toBe('2026-01-04T00:00:00.000Z');
    expect(seven.getUTCDay()).toBe(0);
  });

  it('combines a restricted day of month and day of week with OR (February 30 never comes)', () => {
    // Prepare: February 2026 starts on a Sunday; the 30th never comes, Mondays do.
    const after = new Date('2026-01-31T00:00:00.000Z');
    // Act
    const next = nextFireAfter('0 0 30 2 MON', after);
    // Assess
    expect(next.toISOString()).toBe('2026-02-02T00:00:00.000Z');
  });

  it('accepts overlapping list items', () => {
    // Prepare
    const after = new Date('2026-01-01T00:00:00.000Z');
    // Act
    const next = nextFireAfter('0 0 * * 0,7', after);
    // Assess
    expect(next.toISOString()).toBe('2026-01-04T00:00:00.000Z');
  });

  it('finds leap days across a non-leap century year', () => {
    // Prepare
    const after = new Date('2096-03-01T00:00:00.000Z');
    // Act
    const next = nextFireAfter('0 0 29 2 *', after);
    // Assess
    expect(next.toISOString()).toBe('2104-02-29T00:00:00.000Z');
  });

  it('throws on an invalid expression or date', () => {
    // Act / Assess
    expect(() => nextFireAfter('@daily', new Date())).toThrow(/macros/);
    expect(() => nextFireAfter('0 0 * * *', new Date(Number.NaN))).toThrow(RangeError);
  });
});

/** The next `count` fires after `from`, one after the other, as ISO strings. */
function fires(expr: string, from: string, count: number): string[] {
  const out: string[] = [];
  let at = new Date(from);
  for (let i = 0; i < count; i++) {
    at = nextFireAfter(expr, at);
    out.push(at.toISOString());
  }
  return out;
}

const midnights = (...days: string[]): string[] => days.map((d) => `${d}T00:00:00.000Z`);

describe('Rule: day of month and day of week combine as in Vixie cron', () => {
  // 2026-01-01 is a Thursday.
  it.each([
    {
      why: 'both restricted: the 13th OR a Friday',
      expr: '0 0 13 * 5',
      want: midnights('2026-01-02', '2026-01-09', '2026-01-13', '2026-01-16', '2026-01-23', '2026-01-30', '2026-02-06', '2026-02-13'),
    },
    {
      why: 'day of week */1 begins with "*": the 13th only',
      expr: '0 0 13 * */1',
      want: midnights('2026-01-13', '2026-02-13', '2026-03-13', '2026-04-13'),
    },
    {
      why: 'day of week */1,5 begins with "*": the 13th only, Fridays add nothing',
      expr: '0 0 13 * */1,5',
      want: midnights('2026-01-13', '2026-02-13', '2026-03-13', '2026-04-13'),
    },
    {
      why: 'day of week */2 is Sun, Tue, Thu, Sat',
      expr: '0 0 * * */2',
      want: midnights('2026-01-03', '2026-01-04', '2026-01-06', '2026-01-08', '2026-01-10'),
    },
    {
      why: 'day of week */2 with a restricted day of month: the 13th AND Sun/Tue/Thu/Sat',
      expr: '0 0 13 * */2',
      want: midnights('2026-01-13', '2026-06-13', '2026-08-13', '2026-09-13'),
    },
    {
      why: 'day of month */2 begins with "*": odd days AND Mondays',
      expr: '0 0 */2 * 1',
      want: midnights('2026-01-05', '2026-01-19', '2026-02-09', '2026-02-23'),
    },
    {
      why: 'both restricted, lists and names: the 1st, the 15th OR a Monday',
      expr: '0 0 1,15 * MON',
      want: midnights('2026-01-05', '2026-01-12', '2026-01-15', '2026-01-19', '2026-01-26', '2026-02-01'),
    },
    {
      why: 'day of week 5-7 runs Friday to Sunday',
      expr: '0 0 * * 5-7',
      want: midnights('2026-01-02', '2026-01-03', '2026-01-04', '2026-01-09'),
    },
  ])('$expr: $why', ({ expr, want }) => {
    // Act
    const got = fires(expr, '2026-01-01T00:00:00.000Z', want.length);
    // Assess
    expect(got).toEqual(want);
  });
});

describe('Rule: fires are found across month, year and leap-year ends', () => {
  it.each([
    {
      why: 'the 31st skips short months',
      expr: '0 0 31 * *',
      from: '2026-01-01T00:00:00.000Z',
      want: midnights('2026-01-31', '2026-03-31', '2026-05-31', '2026-07-31', '2026-08-31', '2026-10-31', '2026-12-31'),
    },
    {
      why: 'the 30th skips February even in a leap year',
      expr: '0 0 30 * *',
      from: '2028-01-30T00:00:00.000Z',
      want: midnights('2028-03-30', '2028-04-30'),
    },
    {
      why: 'February 29 waits for a leap year',
      expr: '0 0 29 2 *',
      from: '2026-01-01T00:00:00.000Z',
      want: midnights('2028-02-29', '2032-02-29'),
    },
    {
      why: 'February 29 OR a Monday in February',
      expr: '0 0 29 2 1',
      from: '2027-03-01T00:00:00.000Z',
      want: midnights('2028-02-07', '2028-02-14', '2028-02-21', '2028-02-28', '2028-02-29', '2029-02-05'),
    },
    {
      why: 'February 29 AND Sun/Tue/Thu/Sat',
      expr: '0 0 29 2 */2',
      from: '2026-01-01T00:00:00.000Z',
      want: midnights('2028-02-29', '2032-02-29', '2048-02-29'),
    },
    {
      why: 'year end rolls into the next year',
      expr: '59 23 31 12 *',
      from: '2026-12-31T23:59:00.000Z',
      want: ['2027-12-31T23:59:00.000Z', '2028-12-31T23:59:00.000Z'],
    },
    {
      why: 'the last minute of a day rolls into the next day',
      expr: '59 23 * * *',
      from: '2028-02-28T23:59:30.000Z',
      want: ['2028-02-29T23:59:00.000Z', '2028-03-01T23:59:00.000Z'],
    },
    {
      why: 'tabs between fields and names in any case',
      expr: '0\t12\t*\tjan\tMon',
      from: '2025-12-31T00:00:00.000Z',
      want: ['2026-01-05T12:00:00.000Z', '2026-01-12T12:00:00.000Z', '2026-01-19T12:00:00.000Z', '2026-01-26T12:00:00.000Z', '2027-01-04T12:00:00.000Z'],
    },
    {
      why: 'leap days in the first century (no two-digit-year mapping)',
      expr: '0 0 29 2 *',
      from: '0096-03-01T00:00:00.000Z',
      want: midnights('0104-02-29', '0108-02-29'),
    },
    {
      why: 'before 1970',
      expr: '30 6 1 1 *',
      from: '1899-06-01T00:00:00.000Z',
      want: ['1900-01-01T06:30:00.000Z', '1901-01-01T06:30:00.000Z'],
    },
  ])('$expr: $why', ({ expr, from, want }) => {
    // Act
    const got = fires(expr, from, want.length);
    // Assess
    expect(got).toEqual(want);
  });

  it('evaluates in UTC whatever the offset the instant was written with', () => {
    // Prepare: 23:30 on New Year's Eve in New York is 04:30 UTC on January 1.
    const after = new Date('2026-12-31T23:30:00-05:00');
    // Act
    const next = nextFireAfter('0 0 1 1 *', after);
    // Assess
    expect(next.toISOString()).toBe('2028-01-01T00:00:00.000Z');
  });

  it('is strictly after an instant exactly on a rare fire time', () => {
    // Act
    const next = nextFireAfter('0 0 29 2 *', new Date('2028-02-29T00:00:00.000Z'));
    // Assess
    expect(next.toISOString()).toBe('2032-02-29T00:00:00.000Z');
  });
});
