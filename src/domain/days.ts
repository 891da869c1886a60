/**
 * Days: the UTC calendar days that reports, ledger partitions, file names and restatement are keyed
 * by (contracts.md §4.7), written YYYY-MM-DD. This is the one definition of a day; the arithmetic goes through
 * date-fns in the UTC context, so neither the host's time zone nor its daylight-saving changes can
 * move a day boundary, and month ends, year ends and leap days need no code of their own here.
 *
 * A day is valid when it is a real calendar day whose bounds are safe integers of microseconds
 * (about 1685-2255), the same range parseTimestamp accepts for instants: every event instant falls
 * on a valid day, and every valid day can be computed with exactly.
 */
import { addDays as addCalendarDays, differenceInCalendarDays, formatISO, parse } from 'date-fns';
import { utc } from '@date-fns/utc';
import type { Micros } from './timestamp.js';

/** A UTC calendar day, YYYY-MM-DD. */
export type Day = string;

const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
const IN_UTC = { in: utc } as const;

/** Start of `text` in epoch ms, or undefined when it is not a valid day. */
function startMsOf(text: string): number | undefined {
  // date-fns' parser is lenient (one-digit months, trailing text): the pattern and the round trip
  // below hold it to exactly YYYY-MM-DD naming a real date.
  if (!DAY_PATTERN.test(text)) return undefined;
  const ms = parse(text, 'yyyy-MM-dd', 0, IN_UTC).getTime();
  if (Number.isNaN(ms) || dayOfMs(ms) !== text) return undefined;
  return Number.isSafeInteger(ms * 1000) && Number.isSafeInteger(endMsOf(ms) * 1000) ? ms : undefined;
}

/** The first millisecond after the day that starts at `startMs`. */
function endMsOf(startMs: number): number {
  return addCalendarDays(startMs, 1, IN_UTC).getTime();
}

function startMs(day: Day): number {
  const ms = startMsOf(day);
  if (ms === undefined) throw new RangeError(`not a day: ${day}`);
  return ms;
}

/** True when `text` is a valid day, exactly YYYY-MM-DD. */
export function isDay(text: string): boolean {
  return startMsOf(text) !== undefined;
}

/** True for a month YYYY-MM whose days are days (see isDay). */
export function isMonth(text: string): boolean {
  return /^\d{4}-\d{2}$/.test(text) && isDay(`${text}-01`);
}

/** The day [start, end) named by YYYY-MM-DD, in microseconds; undefined for anything else. */
export function parseDay(text: string): { start: Micros; end: Micros } | undefined {
  const ms = startMsOf(text);
  return ms === undefined ? undefined : { start: ms * 1000, end: endMsOf(ms) * 1000 };
}

/** The day that contains the instant, given in microseconds. */
export function dayOf(micros: Micros): Day {
  return dayOfMs(Math.floor(micros / 1000));
}

/** The day that contains the instant, given in epoch milliseconds. */
export function dayOfMs(ms: number): Day {
  return formatISO(ms, { representation: 'date', ...IN_UTC });
}

/** The day's first millisecond, epoch ms. Throws RangeError for a string that is not a day. */
export function dayStartMs(day: Day): number {
  return startMs(day);
}

/** The first millisecond after the day, epoch ms (the day is [start, end)). */
export function dayEndMs(day: Day): number {
  return endMsOf(startMs(day));
}

/** The day's first microsecond, as the domain's instants count them. Throws RangeError for a non-day. */
export function dayStartMicros(day: Day): Micros {
  return dayStartMs(day) * 1000;
}

/** The first microsecond after the day. */
export function dayEndMicros(day: Day): Micros {
  return dayEndMs(day) * 1000;
}

/** The day `count` days after `day` (before it when negative). */
export function addDays(day: Day, count: number): Day {
  return dayOfMs(addCalendarDays(startMs(day), count, IN_UTC).getTime());
}

/** The day after `day`. */
export function nextDay(day: Day): Day {
  return addDays(day, 1);
}

/** The day before `day`. */
export function previousDay(day: Day): Day {
  return addDays(day, -1);
}

/** How many days `to` is after `from` (negative when it is before). */
export function daysBetween(from: Day, to: Day): number {
  return differenceInCalendarDays(startMs(to), startMs(from), IN_UTC);
}

/** The day as path segments, `YYYY/MM/DD`, for folders that sort and browse by year and month. */
export function dayPath(day: Day): string {
  if (!isDay(day)) throw new RangeError(`not a day: ${day}`);
  return day.replaceAll('-', '/');
}
