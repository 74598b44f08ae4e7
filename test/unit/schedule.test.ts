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

  it('combines a restricted day of month and day of week with OR', () => {
    // Prepare: February 2026 starts on a Sunday; the 30th never comes, Mondays do.
    const after = new Date('2026-01-31T00:00:00.000Z');
    // Act
    const next = nextFireAfter('0 0 30 2 MON', after);
    // Assess
    expect(next.toISOString()).toBe('2026-02-02T00:00:00.000Z');
  });

  it('accepts overlapping list items that cron-parser alone refuses', () => {
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
