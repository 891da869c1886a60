/**
 * The baseline window: which of the previous days today is compared with, and the robust
 * statistic over them.
 *
 * Weekday seasonality: traffic on a Monday looks like other Mondays more than like the Sunday
 * before it, so when the window holds at least `sameWeekdayMinDays` days of today's weekday, only
 * those are used; otherwise all the days are. The statistic is the median of the daily values,
 * not the mean: one incident day in the baseline (or a restated outlier) moves a mean a long way
 * and a median not at all, and alerts that persist for days should not lift their own baseline
 * until they are half of it.
 */
import { daysBetween, isDay } from '../days.js';
import type { DailyMetrics } from '../metrics/metrics.js';
import type { DriftRules } from './rules.js';

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

export interface BaselineWindow {
  /** Every day of the window found in the history, oldest first. */
  readonly found: readonly DailyMetrics[];
  /** The days the baseline uses: today's weekday only, or all of `found`. */
  readonly days: readonly DailyMetrics[];
  /** "Monday" when only today's weekday is used, else "day"; for messages. */
  readonly unit: string;
}

/**
 * The days of `history` within `rules.baselineDays` before `today` (later revisions of a day win;
 * days outside the window, today itself and malformed dates are ignored), and the subset the
 * baseline uses.
 */
export function baselineWindow(
  today: DailyMetrics,
  history: readonly DailyMetrics[],
  rules: Pick<DriftRules, 'baselineDays' | 'sameWeekdayMinDays'>,
): BaselineWindow {
  const byDate = new Map<string, DailyMetrics>();
  for (const day of history) {
    if (!isDay(day.date) || !isDay(today.date)) continue;
    const before = daysBetween(day.date, today.date);
    if (before < 1 || before > rules.baselineDays) continue;
    const seen = byDate.get(day.date);
    if (seen === undefined || day.revision > seen.revision) byDate.set(day.date, day);
  }
  const found = [...byDate.values()].sort((a, b) => a.date.localeCompare(b.date));
  const sameWeekday = found.filter((day) => daysBetween(day.date, today.date) % 7 === 0);
  if (sameWeekday.length >= rules.sameWeekdayMinDays) {
    return { found, days: sameWeekday, unit: weekdayOf(today.date) };
  }
  return { found, days: found, unit: 'day' };
}

function weekdayOf(date: string): string {
  return WEEKDAYS[new Date(`${date}T00:00:00Z`).getUTCDay()] ?? 'day';
}

/** The median of finite values; undefined for none. */
export function median(values: readonly number[]): number | undefined {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** "over 4 Mondays", "over 1 day": how a message names the baseline. */
export function overDays(count: number, window: BaselineWindow): string {
  return `over ${count} ${window.unit}${count === 1 ? '' : 's'}`;
}
