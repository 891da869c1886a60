import { describe, expect, it } from 'vitest';
import { addDays } from '../../../src/domain/days.js';
import { baselineWindow, median, overDays } from '../../../src/domain/drift/baseline.js';
import { day, history, TODAY } from './fixture.js';

const window = (past: ReturnType<typeof day>[], baselineDays = 28, sameWeekdayMinDays = 3) =>
  baselineWindow(day(TODAY), past, { baselineDays, sameWeekdayMinDays });

describe('the baseline window', () => {
  it('uses only the same weekday when enough of those days are in the window', () => {
    const w = window(history(28));
    expect(w.found).toHaveLength(28);
    expect(w.days.map((d) => d.date)).toEqual(['2026-10-26', '2026-11-02', '2026-11-09', '2026-11-16']);
    expect(overDays(w.days.length, w)).toBe('over 4 Mondays');
  });

  it('falls back to all the days when too few share the weekday', () => {
    const w = window(history(13));
    expect(w.days).toHaveLength(13);
    expect(overDays(13, w)).toBe('over 13 days');
    expect(overDays(1, w)).toBe('over 1 day');
  });

  it('ignores days outside the window, today, later days, and keeps the latest revision', () => {
    const past = [
      day(addDays(TODAY, -29)),
      day(TODAY),
      day(addDays(TODAY, 1)),
      day(addDays(TODAY, -2), { revision: 1 }),
      day(addDays(TODAY, -2), { revision: 3 }),
      day(addDays(TODAY, -2), { revision: 2 }),
      day('not-a-day'),
    ];
    const w = window(past);
    expect(w.found.map((d) => [d.date, d.revision])).toEqual([[addDays(TODAY, -2), 3]]);
  });

  it('takes the window from the rules', () => {
    expect(window(history(28), 7).found).toHaveLength(7);
  });
});

describe('median', () => {
  it('is the middle value, or the mean of the two middle values', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('is undefined for no values, and ignores values that are not finite', () => {
    expect(median([])).toBeUndefined();
    expect(median([Number.NaN, Infinity, 2])).toBe(2);
  });

  it('is not moved by one outlier', () => {
    expect(median([10, 10, 11, 1_000_000])).toBe(10.5);
  });
});
