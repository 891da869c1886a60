import { addDays, isMonth } from '../../domain/days.js';
import { PermanentError } from '../../domain/errors.js';
import type { DailyMetrics } from '../../domain/metrics/metrics.js';
import { parseMetrics } from '../../domain/metrics/parse.js';
import { formatScaled } from '../../domain/exact.js';
import { chargesFromDailyRows, renderFocus } from '../../domain/focus/focus.js';
import { parseDailyCsv } from '../../domain/monthly/daily-rows.js';
import { renderPage } from '../../domain/monthly/html.js';
import { buildPeriod, renderPeriodCsv, type DayInput, type Period } from '../../domain/monthly/monthly.js';
import { buildPageModel, type FeatureValues } from '../../domain/monthly/page-model.js';
import {
  dayPagePath,
  monthlyPaths,
  type DailyReportSource,
  type ReportStore,
} from '../../ports/report-store.js';

export interface MonthlyFiles {
  readonly csv: string;
  readonly html: string;
  readonly summary: string;
  /** `focus-YYYY-MM.csv` (contracts.md §15): the days' charges in the FOCUS format, day by day. */
  readonly focus: string;
  readonly period: Period;
}

/** The days of a month YYYY-MM, or undefined for anything else. */
export function daysOfMonth(month: string): string[] | undefined {
  if (!isMonth(month)) return undefined;
  const days: string[] = [];
  for (let day = `${month}-01`; day.startsWith(month); day = addDays(day, 1)) days.push(day);
  return days;
}

/** The month before a month YYYY-MM: the month of the day before its first day. */
export function previousMonth(month: string): string {
  return addDays(`${month}-01`, -1).slice(0, 7);
}

/**
 * contracts.md §12: the month's CSV, page and summary from the latest revision of each of its days. Days
 * with no report are named as missing; days not yet over at `now` are named apart, so a month in
 * progress is not mistaken for one with holes.
 */
export async function monthlyReport(input: {
  readonly source: DailyReportSource;
  readonly month: string;
  readonly now: Date;
  readonly values?: FeatureValues;
}): Promise<MonthlyFiles> {
  const days = daysOfMonth(input.month);
  if (days === undefined) throw new PermanentError(`not a month YYYY-MM: "${input.month}"`);
  const today = input.now.toISOString().slice(0, 10);
  const ended = days.filter((d) => d < today);
  const notYet = days.filter((d) => d >= today);
  const { period, inputs } = await readDays(input.source, input.month, ended);
  const previousDays = daysOfMonth(previousMonth(input.month)) ?? [];
  const previous = await readPeriod(input.source, previousMonth(input.month), previousDays);
  const model = buildPageModel({
    title: `GPU chargeback, ${input.month}`,
    period,
    generatedAt: input.now.toISOString(),
    ...(previous.days.length > 0 ? { previous } : {}),
    ...(input.values === undefined ? {} : { values: input.values }),
    daysInPeriod: days.length,
  });
  const summary = {
    month: input.month,
    currency: period.currency,
    generatedAt: input.now.toISOString(),
    daysReported: period.days.map((d) => d.date),
    daysMissing: period.missing,
    daysNotYetEnded: notYet,
    daysWithoutMetrics: period.withoutMetrics,
    fleetCostUsd: formatScaled(period.allocatedMicros + period.idleMicros, 6),
    allocatedCostUsd: formatScaled(period.allocatedMicros, 6),
    idleCostUsd: formatScaled(period.idleMicros, 6),
    rows: period.rows.length,
  };
  return {
    csv: renderPeriodCsv(period),
    html: renderPage(model),
    summary: `${JSON.stringify(summary, null, 2)}\n`,
    // The days' rows as their CSVs state them, so the file adds up to the month's CSV exactly.
    focus: renderFocus(
      inputs.flatMap((day) => chargesFromDailyRows(day.rows)),
      { currency: period.currency },
    ),
    period,
  };
}

/** A day's page: the same page, for one day, against the day before when it was reported. */
export async function dayPage(source: DailyReportSource, day: string, now: Date): Promise<string> {
  const period = await readPeriod(source, day, [day]);
  const before = await readPeriod(source, addDays(day, -1), [addDays(day, -1)]);
  return renderPage(
    buildPageModel({
      title: `GPU chargeback, ${day}`,
      period,
      generatedAt: now.toISOString(),
      ...(before.days.length > 0 ? { previous: before } : {}),
      daysInPeriod: 1,
    }),
  );
}

async function readPeriod(source: DailyReportSource, name: string, days: readonly string[]): Promise<Period> {
  return (await readDays(source, name, days)).period;
}

/** The period and the days it was built from, in the order of `days`. */
async function readDays(
  source: DailyReportSource,
  name: string,
  days: readonly string[],
): Promise<{ period: Period; inputs: readonly DayInput[] }> {
  const inputs: DayInput[] = [];
  const missing: string[] = [];
  let currency: string | undefined;
  for (const day of days) {
    const csv = await source.csv(day);
    if (csv === undefined) {
      missing.push(day);
      continue;
    }
    const metricsText = await source.metrics(day);
    let metrics: DailyMetrics | undefined;
    if (metricsText !== undefined) {
      try {
        metrics = parseMetrics(metricsText);
      } catch (error) {
        throw new PermanentError(`metrics-${day}.json: ${(error as Error).message}`);
      }
      if (currency !== undefined && metrics.currency !== currency)
        throw new PermanentError(
          `metrics-${day}.json is in ${metrics.currency}, earlier days in ${currency}`,
        );
      currency = metrics.currency;
    }
    inputs.push({
      date: day,
      rows: parseDailyCsv(csv, `chargeback-${day}.csv`, day),
      ...(metrics === undefined ? {} : { metrics }),
    });
  }
  return {
    period: buildPeriod({ period: name, currency: currency ?? 'USD', days: inputs, missing }),
    inputs,
  };
}

/** Writes the day's page beside its report, from what the store now holds. */
export async function writeDayPage(
  reports: DailyReportSource & Pick<ReportStore, 'writeDocument'>,
  day: string,
  now: Date,
): Promise<void> {
  await reports.writeDocument(dayPagePath(day), await dayPage(reports, day, now), 'text/html; charset=utf-8');
}

/** Computes the month from the stored days and writes its CSV, page, FOCUS file and summary (summary last). */
export async function writeMonthlyReport(
  reports: DailyReportSource & Pick<ReportStore, 'writeDocument'>,
  month: string,
  now: Date,
): Promise<MonthlyFiles> {
  const files = await monthlyReport({ source: reports, month, now });
  const paths = monthlyPaths(month);
  await reports.writeDocument(paths.csv, files.csv, 'text/csv; charset=utf-8');
  await reports.writeDocument(paths.html, files.html, 'text/html; charset=utf-8');
  await reports.writeDocument(paths.focus, files.focus, 'text/csv; charset=utf-8');
  await reports.writeDocument(paths.summary, files.summary, 'application/json');
  return files;
}

/** The month of `day` when that month is over at `now` (its report exists and must be restated). */
export function closedMonthOf(day: string, now: Date): string | undefined {
  const month = day.slice(0, 7);
  return month < now.toISOString().slice(0, 7) ? month : undefined;
}
