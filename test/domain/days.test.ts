import { describe, expect, it } from 'vitest';
import {
  addDays,
  dayEndMicros,
  dayEndMs,
  dayOf,
  dayOfMs,
  dayPath,
  daysBetween,
  dayStartMicros,
  dayStartMs,
  isDay,
  nextDay,
  parseDay,
  previousDay,
} from '../../src/domain/days.js';
import { parseTimestamp } from '../../src/domain/timestamp.js';

describe('isDay', () => {
  it.each(['2026-03-01', '2024-02-29', '2000-02-29', '1970-01-01', '2026-12-31', '1684-07-29', '2255-06-04'])(
    'accepts %s',
    (text) => {
      expect(isDay(text)).toBe(true);
    },
  );

  it.each([
    ['a day that does not exist', '2026-02-30'],
    ['29 February of a common year', '2023-02-29'],
    ['29 February of a century year not divisible by 400', '1900-02-29'],
    ['month 13', '2026-13-01'],
    ['month 00', '2026-00-10'],
    ['day 00', '2026-01-00'],
    ['day 32', '2026-01-32'],
    ['one-digit month and day', '2026-1-5'],
    ['trailing text', '2026-01-05 '],
    ['leading text', ' 2026-01-05'],
    ['a timestamp', '2026-01-05T00:00:00Z'],
    ['slashes', '2026/01/05'],
    ['an expanded year', '+02026-01-05'],
    ['a path', '../2026-01-05'],
    ['the empty string', ''],
    ['the last day whose start is not a safe integer of microseconds', '1684-07-28'],
    ['the first day whose end is not a safe integer of microseconds', '2255-06-05'],
    ['a far year', '9999-12-31'],
  ])('rejects %s', (_why, text) => {
    expect(isDay(text)).toBe(false);
    expect(parseDay(text)).toBeUndefined();
  });
});

describe('day bounds', () => {
  it('gives the day as [start, end) in microseconds', () => {
    expect(parseDay('2026-03-01')).toEqual({
      start: parseTimestamp('2026-03-01T00:00:00Z'),
      end: parseTimestamp('2026-03-02T00:00:00Z'),
    });
  });

  it('gives the start and end in ms and microseconds alike', () => {
    expect(dayStartMs('2026-03-01')).toBe(Date.UTC(2026, 2, 1));
    expect(dayEndMs('2026-03-01')).toBe(Date.UTC(2026, 2, 2));
    expect(dayStartMicros('2026-03-01')).toBe(Date.UTC(2026, 2, 1) * 1000);
    expect(dayEndMicros('2026-03-01')).toBe(Date.UTC(2026, 2, 2) * 1000);
  });

  it('ends a leap day at the start of March', () => {
    expect(dayEndMs('2024-02-29')).toBe(Date.UTC(2024, 2, 1));
  });

  it('throws a RangeError naming a string that is not a day', () => {
    expect(() => dayStartMs('2026-02-30')).toThrow(new RangeError('not a day: 2026-02-30'));
    expect(() => dayEndMicros('yesterday')).toThrow(RangeError);
  });
});

describe('the day of an instant', () => {
  it('puts the last microsecond of a day in that day and the next one in the next', () => {
    expect(dayOf(parseTimestamp('2026-03-01T23:59:59.999999Z') ?? 0)).toBe('2026-03-01');
    expect(dayOf(parseTimestamp('2026-03-02T00:00:00Z') ?? 0)).toBe('2026-03-02');
  });

  it('takes the UTC day of an instant written with an offset', () => {
    expect(dayOf(parseTimestamp('2026-03-01T23:30:00-02:00') ?? 0)).toBe('2026-03-02');
  });

  it('takes the day of an instant before 1970', () => {
    expect(dayOf(parseTimestamp('1969-12-31T23:59:59.999999Z') ?? 0)).toBe('1969-12-31');
  });

  it('takes the day of epoch milliseconds', () => {
    expect(dayOfMs(Date.UTC(2026, 11, 31, 23, 59, 59, 999))).toBe('2026-12-31');
  });
});

describe('day arithmetic', () => {
  it.each([
    ['2026-01-31', '2026-02-01'],
    ['2026-02-28', '2026-03-01'],
    ['2024-02-28', '2024-02-29'],
    ['2024-02-29', '2024-03-01'],
    ['2026-12-31', '2027-01-01'],
  ])('the day after %s is %s', (day, after) => {
    expect(nextDay(day)).toBe(after);
    expect(previousDay(after)).toBe(day);
  });

  it('adds and subtracts any number of days', () => {
    expect(addDays('2026-03-01', 28)).toBe('2026-03-29');
    expect(addDays('2026-03-01', -28)).toBe('2026-02-01');
    expect(addDays('2026-03-01', 0)).toBe('2026-03-01');
  });

  it('counts the days between two days, negative backwards', () => {
    expect(daysBetween('2024-01-01', '2025-01-01')).toBe(366);
    expect(daysBetween('2025-01-01', '2026-01-01')).toBe(365);
    expect(daysBetween('2026-03-02', '2026-03-01')).toBe(-1);
    expect(daysBetween('2026-03-01', '2026-03-01')).toBe(0);
  });

  it('refuses arithmetic on a string that is not a day', () => {
    expect(() => nextDay('2026-02-30')).toThrow(RangeError);
    expect(() => daysBetween('2026-03-01', 'today')).toThrow(RangeError);
  });
});

describe('dayPath', () => {
  it('writes the day as YYYY/MM/DD', () => {
    expect(dayPath('2026-03-01')).toBe('2026/03/01');
  });

  it('refuses a string that is not a day, so no path leaves the day folders', () => {
    expect(() => dayPath('../../x')).toThrow(RangeError);
  });
});
